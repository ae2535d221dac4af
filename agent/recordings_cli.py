"""`browser-agent recordings …` (read recordings back) and `browser-agent spool …` (uploads)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from botocore.exceptions import BotoCoreError, ClientError

from agent.cli_common import (
    EXIT_BAD_INPUT,
    EnvOption,
    SettingsOption,
    guarded,
    settings_for_command,
)
from agent.config import AgentSettings
from agent.errors import SessionNotFound
from agent.levels import RecordingLevel
from agent.runtime import aws_clients, upload_spool
from agent.storage.catalog import (
    LocalCatalog,
    RecordedSession,
    RecordingsCatalog,
    S3Catalog,
)

recordings_app = typer.Typer(
    help="List, show and download recordings (uses your own read/list permissions).",
    no_args_is_help=True,
)
spool_app = typer.Typer(
    help="The local upload spool: what is pending, and uploading it.", no_args_is_help=True
)

BucketOption = Annotated[
    str | None, typer.Option("--bucket", help="The recordings bucket (default: s3_bucket).")
]


def _catalog(settings: AgentSettings) -> RecordingsCatalog:
    if settings.s3_bucket:
        return S3Catalog(aws_clients(settings).s3(), settings.s3_bucket, settings.env)
    return LocalCatalog(settings.spool_dir, settings.env)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(EXIT_BAD_INPUT)


def _find(settings: AgentSettings, session_id: str) -> tuple[RecordingsCatalog, RecordedSession]:
    catalog = _catalog(settings)
    try:
        return catalog, catalog.find(session_id)
    except SessionNotFound as exc:
        raise _fail(str(exc)) from None
    except (ClientError, BotoCoreError) as exc:
        raise _fail(f"cannot read the bucket: {exc}") from None


@recordings_app.command("ls")
def recordings_ls(
    day: Annotated[
        str | None, typer.Option("--date", help="Only this day, YYYY-MM-DD (UTC).")
    ] = None,
    level: Annotated[str | None, typer.Option("--level", help="Only this level.")] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Only failed sessions.")] = False,
    bucket: BucketOption = None,
    env: EnvOption = None,
    settings_file: SettingsOption = None,
) -> None:
    """One line per recorded session: start, session id, level, outcome, artifacts, bytes."""
    settings = guarded(lambda: settings_for_command(env, settings_file, s3_bucket=bucket))
    try:
        wanted_day = date.fromisoformat(day) if day else None
        wanted_level = RecordingLevel.parse(level, where="--level") if level else None
    except ValueError as exc:
        raise _fail(str(exc)) from None
    try:
        sessions = list(_catalog(settings).sessions(wanted_day))
    except (ClientError, BotoCoreError) as exc:
        raise _fail(f"cannot list the bucket: {exc}") from None
    for session in sessions:
        m = session.manifest
        if wanted_level is not None and m.level != wanted_level.name:
            continue
        if failed and m.outcome != "failed":
            continue
        typer.echo(
            f"{m.started_at:%Y-%m-%d %H:%M:%S}  {m.session_id}  {m.level:<5}  {m.outcome:<9}  "
            f"{len(m.artifacts):>3} artifacts  {m.total_bytes:>10} B  {m.script}"
        )


@recordings_app.command("show")
def recordings_show(
    session_id: Annotated[str, typer.Argument(help="The session id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the manifest as JSON.")] = False,
    bucket: BucketOption = None,
    env: EnvOption = None,
    settings_file: SettingsOption = None,
) -> None:
    """The session's manifest, readable."""
    settings = guarded(lambda: settings_for_command(env, settings_file, s3_bucket=bucket))
    _, session = _find(settings, session_id)
    m = session.manifest
    if as_json:
        typer.echo(m.to_json())
        return
    typer.echo(f"session   {m.session_id}  ({session.location})")
    typer.echo(f"script    {m.script} {m.script_version}   agent {m.agent_name}   env {m.env}")
    typer.echo(f"level     {m.level} (set by {m.level_source})")
    typer.echo(f"outcome   {m.outcome}   {m.started_at:%Y-%m-%d %H:%M:%S} → {m.ended_at:%H:%M:%S}")
    if m.error:
        typer.echo(f"error     {m.error.code}: {m.error.message}")
    typer.echo("steps:")
    for step in m.steps:
        note = f"  {step.error}" if step.error else ""
        typer.echo(
            f"  {step.n:>3} {step.action:<16} {step.status:<7} {step.duration_ms:>6} ms{note}"
        )
    typer.echo("artifacts:")
    for a in m.artifacts:
        typer.echo(f"  {a.key:<40} {a.type:<10} {a.bytes:>10} B  {a.sha256[:12]}")
    for dropped in m.dropped:
        typer.echo(f"  dropped: {dropped.get('key')} ({dropped.get('reason')})")


@recordings_app.command("get")
def recordings_get(
    session_id: Annotated[str, typer.Argument(help="The session id.")],
    target: Annotated[Path | None, typer.Argument(help="Folder to download into.")] = None,
    bucket: BucketOption = None,
    env: EnvOption = None,
    settings_file: SettingsOption = None,
) -> None:
    """Download every file of a session (default folder: ./SESSION_ID)."""
    settings = guarded(lambda: settings_for_command(env, settings_file, s3_bucket=bucket))
    catalog, session = _find(settings, session_id)
    folder = target or Path(session.manifest.session_id)
    try:
        files = catalog.download(session, folder)
    except (ClientError, BotoCoreError, OSError) as exc:
        raise _fail(f"download failed: {exc}") from None
    typer.echo(f"{len(files)} files in {folder}")


@recordings_app.command("links")
def recordings_links(
    session_id: Annotated[str, typer.Argument(help="The session id.")],
    expires: Annotated[
        int | None, typer.Option("--expires", min=1, help="Seconds (default: setting).")
    ] = None,
    bucket: BucketOption = None,
    env: EnvOption = None,
    settings_file: SettingsOption = None,
) -> None:
    """Presigned links to the session's files, valid for a short time."""
    settings = guarded(lambda: settings_for_command(env, settings_file, s3_bucket=bucket))
    catalog, session = _find(settings, session_id)
    if not isinstance(catalog, S3Catalog):
        raise _fail("presigned links need a bucket (s3_bucket / --bucket)")
    expiry = expires or settings.s3.presign_expiry_seconds
    for name, url in catalog.links(session, expiry).items():
        typer.echo(f"{name}\t{url}")


@spool_app.command("status")
def spool_status(
    bucket: BucketOption = None,
    env: EnvOption = None,
    settings_file: SettingsOption = None,
) -> None:
    """Sessions waiting in the spool for upload."""
    settings = guarded(lambda: settings_for_command(env, settings_file, s3_bucket=bucket))
    spool = upload_spool(settings)
    if spool is None:
        typer.echo(f"no bucket configured: recordings stay in {settings.spool_dir}")
        return
    pending = spool.pending()
    typer.echo(json.dumps({"pending": [p for _, p in pending], "bytes": spool.size()}, indent=2))


@spool_app.command("flush")
def spool_flush(
    wait: Annotated[
        float, typer.Option("--wait", min=0, help="Keep retrying for this many seconds.")
    ] = 0,
    bucket: BucketOption = None,
    env: EnvOption = None,
    settings_file: SettingsOption = None,
) -> None:
    """Upload every pending session; exit 1 if some are still pending."""
    settings = guarded(lambda: settings_for_command(env, settings_file, s3_bucket=bucket))
    spool = upload_spool(settings)
    if spool is None:
        raise _fail("no bucket configured (s3_bucket / BROWSER_AGENT_S3_BUCKET / --bucket)")
    if not spool.flush(wait):
        typer.echo(f"{len(spool.pending())} sessions still pending in {settings.spool_dir}")
        raise typer.Exit(1)
    typer.echo("spool empty: every session uploaded")
