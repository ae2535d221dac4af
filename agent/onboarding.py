"""`browser-agent setup`: discover the environment, write the local settings file, check access."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from agent.access import AccessCheck, CallerIdentity, agent_access_checks, caller_identity
from agent.aws import AwsClients, region_from_arn
from agent.config import LOCAL_SETTINGS_CANDIDATES, SETTINGS_FILE_VAR, AgentSettings, load_settings
from agent.discovery import checked_env, discover
from agent.errors import ConfigurationError
from agent.legacy_credentials import profile_name, read_legacy_secret, write_profile
from agent.settings_file import settings_file_path, write_settings


@dataclass(frozen=True)
class SetupRequest:
    env: str
    aws_profile: str | None = None
    region: str | None = None
    legacy_secret: bool = False
    settings_file: Path | None = None


@dataclass
class SetupOutcome:
    settings_path: Path
    values: dict[str, str]
    sources: dict[str, str]
    identity: CallerIdentity
    settings: AgentSettings
    checks: list[AccessCheck]
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks if c.required)


def run_setup(request: SetupRequest, environ: Mapping[str, str]) -> SetupOutcome:
    env = checked_env(request.env)
    path = settings_file_path(request.settings_file, environ)
    clients = AwsClients(region=request.region, profile=request.aws_profile)
    if not clients.region_name:
        raise ConfigurationError(
            "no AWS region: pass --region REGION (the region of the infra stack), or set "
            "AWS_REGION or the profile's region"
        )
    identity = caller_identity(clients)
    notes: list[str] = []
    if request.legacy_secret:
        secret = read_legacy_secret(clients, env, identity)
        profile = profile_name(env)
        credentials_file, config_file = write_profile(secret, profile, environ)
        notes.append(f"wrote AWS profile [{profile}] to {credentials_file} and {config_file}")
        region = region_from_arn(secret.activity_arn) or secret.region or clients.region_name
        clients = AwsClients(region=region, profile=profile)
        identity = caller_identity(clients)
        values = {
            "activity_arn": secret.activity_arn,
            "s3_bucket": secret.s3_bucket,
            "aws_region": region,
            "aws_profile": profile,
        }
        sources = {key: f"secret {env} credentials" for key in values}
    else:
        discovered = discover(clients, env, identity)
        values = dict(discovered.values)
        sources = {key: f"SSM {name}" for key, name in discovered.parameters.items()}
        sources["aws_region"] = "the activity ARN"
        if request.aws_profile:
            values["aws_profile"] = request.aws_profile
            sources["aws_profile"] = "--aws-profile"
    write_settings(path, env, values)
    notes.extend(_shadowing_notes(path, environ))
    settings = load_settings(env=env, settings_file=path)
    run_clients = AwsClients.for_settings(
        aws_region=settings.aws_region,
        activity_arn=settings.activity_arn,
        profile=settings.aws_profile,
    )
    checks = agent_access_checks(run_clients, settings, identity)
    return SetupOutcome(path, values, sources, identity, settings, checks, notes)


def _shadowing_notes(written: Path, environ: Mapping[str, str]) -> list[str]:
    """Whether a plain `browser-agent run` reads the file just written."""
    chosen = environ.get(SETTINGS_FILE_VAR)
    if chosen:
        if Path(chosen).resolve() == written.resolve():
            return []
        return [f"{SETTINGS_FILE_VAR}={chosen} is set: `run` reads that file, not {written}"]
    first = next((p for p in LOCAL_SETTINGS_CANDIDATES if p.is_file()), None)
    if first is not None and first.resolve() == written.resolve():
        return []
    if written.resolve() in {p.resolve() for p in LOCAL_SETTINGS_CANDIDATES} and first:
        return [f"{first} exists and is read instead of {written}: merge or remove it"]
    return [f"`run` reads {written} only with --settings {written} or {SETTINGS_FILE_VAR}"]
