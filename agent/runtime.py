"""Putting the parts together from settings: browser driver, store, executor."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

from agent.aws import AwsClients
from agent.browser import BrowserDriver, BrowserOptions
from agent.config import AgentSettings
from agent.executor import ExecutorSettings, ScriptExecutor
from agent.nova import NovaActRunner
from agent.secret_refs import secret_resolver
from agent.storage import ArtifactStore, LocalFolderStore
from agent.storage.s3 import MiB, S3Options, S3Uploader
from agent.storage.spool import UploadSpool


def browser_driver(settings: AgentSettings) -> BrowserDriver:
    return BrowserDriver(
        BrowserOptions(executable_path=settings.browser_executable_path, headless=settings.headless)
    )


def aws_clients(settings: AgentSettings) -> AwsClients:
    return AwsClients.for_settings(
        aws_region=settings.aws_region,
        activity_arn=settings.activity_arn,
        profile=settings.aws_profile,
    )


def s3_uploader(settings: AgentSettings, bucket: str) -> S3Uploader:
    s3 = settings.s3
    return S3Uploader(
        aws_clients(settings).s3(),
        S3Options(
            bucket=bucket,
            multipart_threshold=int(s3.multipart_threshold_mb * MiB),
            multipart_chunksize=int(s3.multipart_chunksize_mb * MiB),
            max_concurrency=s3.max_concurrency,
            server_side_encryption=s3.server_side_encryption,
            kms_key_id=s3.kms_key_id,
        ),
    )


def upload_spool(settings: AgentSettings, spool_dir: Path | None = None) -> UploadSpool | None:
    """The spool that uploads to the configured bucket; None when recordings stay local."""
    if not settings.s3_bucket:
        return None
    return UploadSpool(
        spool_dir or settings.spool_dir,
        s3_uploader(settings, settings.s3_bucket),
        max_bytes=int(settings.s3.spool_max_mb * MiB),
    )


def artifact_store(settings: AgentSettings, spool_dir: Path) -> ArtifactStore:
    """S3 through the spool when a bucket is set; else the spool folder is the local store."""
    return upload_spool(settings, spool_dir) or LocalFolderStore(spool_dir)


def nova_act_runner(settings: AgentSettings) -> NovaActRunner | None:
    """The Nova Act runner when `nova_act.enabled`; None leaves act steps NotConfigured."""
    nova = settings.nova_act
    if not nova.enabled:
        return None
    api_key: Callable[[], str] | None = None
    if nova.auth == "api_key" and nova.api_key_ref:
        # Resolved when a run's first act starts, so a rotated key is picked up.
        api_key = partial(secret_resolver(aws_clients(settings)), nova.api_key_ref)
    return NovaActRunner(nova, aws_profile=settings.aws_profile, api_key=api_key)


def script_executor(
    settings: AgentSettings, driver: BrowserDriver, spool_dir: Path | None = None
) -> ScriptExecutor:
    spool = spool_dir or settings.spool_dir
    return ScriptExecutor(
        driver,
        artifact_store(settings, spool),
        ExecutorSettings(
            spool_dir=spool,
            env=settings.env,
            agent_name=settings.agent_name,
            step_timeout_ms=settings.step_timeout_ms,
            navigation_timeout_ms=settings.navigation_timeout_ms,
            ring_size=settings.ring_size,
            act_timeout_ms=settings.nova_act.timeout_seconds * 1000,
        ),
        nova=nova_act_runner(settings),
    )
