"""The `browser-agent` command line."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from botocore.exceptions import BotoCoreError, ClientError
from loguru import logger

from agent.cli_common import (
    EXIT_BAD_INPUT,
    EXIT_SCRIPT_FAILED,
    EnvOption,
    LevelOption,
    SettingsOption,
    guarded,
    settings_for_command,
)
from agent.config import AgentSettings, describe_settings
from agent.errors import AwsAccessError, InvalidInput, ScriptValidationError
from agent.levels import RecordingLevel
from agent.recordings_cli import recordings_app, spool_app
from agent.result import RunResult
from agent.runtime import aws_clients, browser_driver, script_executor
from agent.script import SecretRef, VariableValue, bind, load_script_file
from agent.secret_refs import secret_resolver
from agent.setup_cli import doctor, setup
from agent.worker_cli import register_worker_commands

app = typer.Typer(
    name="browser-agent",
    help="Headless browser automation with recording levels, for AWS Step Functions activities.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _parse_pairs(pairs: list[str], flag: str) -> dict[str, str]:
    parsed = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise InvalidInput(f"{flag} {pair!r}: expected NAME=VALUE")
        parsed[name] = value
    return parsed


def _print_result(result: RunResult) -> None:
    typer.echo(json.dumps(result.to_json_dict(), indent=2, ensure_ascii=False))


@app.command("run-script")
def run_script(
    file: Annotated[Path, typer.Argument(help="The script (JSON) to run.")],
    var: Annotated[
        list[str] | None, typer.Option("--var", help="A variable, NAME=VALUE (repeatable).")
    ] = None,
    secret: Annotated[
        list[str] | None,
        typer.Option(
            "--secret",
            help="A secret variable by reference, NAME=env:VAR or NAME=secretsmanager:ID#KEY.",
        ),
    ] = None,
    level: LevelOption = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Folder for the recording (spool_dir).")
    ] = None,
    bucket: Annotated[
        str | None, typer.Option("--bucket", help="Upload the recording to this S3 bucket.")
    ] = None,
    demo_site: Annotated[
        bool,
        typer.Option(
            "--demo-site",
            help="Serve the bundled demo site for this run and supply its base_url, username "
            "and password to variables that are not given.",
        ),
    ] = False,
    env: EnvOption = None,
    settings_file: SettingsOption = None,
) -> None:
    """Run one script in headless Chromium; print the result JSON; exit 1 if it failed."""

    def work() -> RunResult:
        settings = settings_for_command(
            env, settings_file, spool_dir=str(out) if out else None, s3_bucket=bucket
        )
        script = load_script_file(file)
        given: dict[str, VariableValue] = dict(_parse_pairs(var or [], "--var"))
        given.update({k: SecretRef(v) for k, v in _parse_pairs(secret or [], "--secret").items()})
        choice = settings.level_for(
            script_level=script.session.recording_level,
            task_level=level,
            task_source="--level flag",
        )
        try:
            return asyncio.run(_run_one(settings, script, given, choice, demo_site))
        except ScriptValidationError as exc:
            raise ScriptValidationError(exc.problems, source=str(file)) from None

    result = guarded(work)
    _print_result(result)
    if not result.success:
        raise typer.Exit(EXIT_SCRIPT_FAILED)


async def _run_one(
    settings: AgentSettings,
    script: Any,
    given: dict[str, VariableValue],
    choice: Any,
    demo_site: bool,
) -> RunResult:
    from agent.demo.runner import demo_variables
    from agent.demo.site import DemoSite

    resolve_secret = secret_resolver(aws_clients(settings))
    async with browser_driver(settings) as driver:
        executor = script_executor(settings, driver)
        if not demo_site:
            return await executor.run(bind(script, given, resolve_secret), choice)
        with DemoSite() as site:
            for name, value in demo_variables(site).items():
                if name in script.variables:
                    given.setdefault(name, value)
            return await executor.run(bind(script, given, resolve_secret), choice)


@app.command()
def demo(
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Folder for the recordings, one sub-folder per level (default: SPOOL_DIR/demo).",
        ),
    ] = None,
    serve: Annotated[
        bool, typer.Option("--serve", help="Only serve the demo site until interrupted.")
    ] = False,
    levels: Annotated[
        str, typer.Option("--levels", help="Comma-separated levels to run the examples at.")
    ] = "NONE,ERROR,INFO,DEBUG,TRACE",
    env: EnvOption = None,
    settings_file: SettingsOption = None,
) -> None:
    """Run the bundled examples against the bundled demo site at every recording level."""
    from agent.demo.runner import example_scripts, run_demo
    from agent.demo.site import DemoSite

    if serve:
        _serve_demo_site(DemoSite)
        return

    def work() -> None:
        settings = settings_for_command(env, settings_file)
        chosen = [RecordingLevel.parse(n, where="--levels") for n in levels.split(",") if n.strip()]
        typer.echo(f"Running {len(example_scripts())} example scripts at {len(chosen)} levels…")
        rows = asyncio.run(run_demo(settings, out or settings.spool_dir / "demo", chosen))
        typer.echo(
            f"\n{'level':<6} {'runs':>4} {'failed':>6} {'sessions':>8} {'artifacts':>9} "
            f"{'bytes':>11}  where"
        )
        for row in rows:
            typer.echo(
                f"{row.level.name:<6} {row.runs:>4} {row.failed:>6} {row.sessions:>8} "
                f"{row.artifacts:>9} {row.bytes:>11,}  {row.folder}"
            )
        typer.echo("\n(fails_on_purpose fails at every level, on purpose: that is the ERROR case.)")

    try:
        guarded(work)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None


def _serve_demo_site(site_type: Any) -> None:
    import threading

    with site_type() as site:
        typer.echo(f"Demo site at {site.url}  (Ctrl-C to stop)")
        typer.echo(
            f"Try: browser-agent run-script examples/login.json --var base_url={site.url} "
            f"--var username={site.USERNAME} --secret password=env:DEMO_PASSWORD"
        )
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


register_worker_commands(app)
app.command("setup")(setup)
app.command("doctor")(doctor)
app.add_typer(recordings_app, name="recordings")
app.add_typer(spool_app, name="spool")

config_app = typer.Typer(help="Inspect the resolved configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")


@config_app.command("show")
def config_show(
    script_file: Annotated[
        Path | None, typer.Option("--script", help="Include this script's recording level.")
    ] = None,
    agent: Annotated[
        str | None, typer.Option("--agent", help="Resolve as this agent name.")
    ] = None,
    level: LevelOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    env: EnvOption = None,
    settings_file: SettingsOption = None,
) -> None:
    """Print every resolved setting and the layer it came from, and the recording level."""

    def work() -> dict[str, Any]:
        settings = settings_for_command(env, settings_file, agent_name=agent)
        script_level = (
            load_script_file(script_file).session.recording_level if script_file else None
        )
        choice = settings.level_for(
            script_level=script_level, task_level=level, task_source="--level flag"
        )
        return describe_settings(settings, choice)

    described = guarded(work)
    if as_json:
        typer.echo(json.dumps(described, indent=2))
        return
    for key, entry in described["settings"].items():
        typer.echo(f"{key:<26} {entry['value']!s:<40} ({entry['source']})")
    level_line = described["recording_level"]
    typer.echo(f"\nrecording level: {level_line['level']}  (set by {level_line['source']})")
    typer.echo("settings files: " + ", ".join(described["settings_files"]))


@app.command()
def estimate(
    path: Annotated[
        Path | None,
        typer.Argument(help="Folder holding recordings (default: spool_dir)."),
    ] = None,
    sessions_per_day: Annotated[
        int, typer.Option("--sessions-per-day", min=1, help="Sessions a day to estimate for.")
    ] = 100,
    failure_rate: Annotated[
        float,
        typer.Option("--failure-rate", min=0.0, max=1.0, help="Share of sessions that fail."),
    ] = 0.05,
    retention_days: Annotated[
        int, typer.Option("--retention-days", min=1, help="Days objects are kept (lifecycle).")
    ] = 90,
    bucket: Annotated[
        str | None,
        typer.Option(
            "--bucket",
            help="Read the manifests of this bucket's sessions for --env instead of a folder "
            "(needs s3:ListBucket and s3:GetObject).",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON, one object per level.")
    ] = False,
    env: EnvOption = None,
    settings_file: SettingsOption = None,
) -> None:
    """Bytes per session, day and month, and S3 Standard cost, per level, from real manifests."""
    from agent.recording.estimate import estimate as estimate_levels
    from agent.recording.estimate import read_manifests

    settings = guarded(lambda: settings_for_command(env, settings_file))
    if bucket:
        root: Path | str = f"s3://{bucket}/browser-sessions/{settings.env}/"
        manifests = guarded(lambda: _bucket_manifests(settings, bucket))
    else:
        root = path or settings.spool_dir
        manifests = read_manifests(root)
    if not manifests:
        typer.echo(
            f"error: no manifest.json under {root}; run `browser-agent demo` first", err=True
        )
        raise typer.Exit(EXIT_BAD_INPUT)
    rows = estimate_levels(
        manifests,
        sessions_per_day=sessions_per_day,
        failure_rate=failure_rate,
        retention_days=retention_days,
    )
    if as_json:
        typer.echo(json.dumps([{**asdict(r), "level": r.level.name} for r in rows], indent=2))
        return
    typer.echo(
        f"{len(manifests)} manifests under {root}; {sessions_per_day} sessions/day, "
        f"{failure_rate:.0%} failing, kept {retention_days} days, S3 Standard $0.023/GB-month\n"
    )
    typer.echo(
        f"{'level':<6} {'manifests':>9} {'per session':>12} {'per day':>10} {'per month':>10} "
        f"{'$/month':>9}   {'seed: per session':>17} {'seed $/month':>12}"
    )
    for row in rows:
        typer.echo(
            f"{row.level.name:<6} {row.manifests:>9} {_size(row.bytes_per_session):>12} "
            f"{_size(row.bytes_per_day):>10} {_size(row.bytes_per_month):>10} "
            f"{row.usd_per_month:>9.2f}   {row.seed_mb_per_session:>14.1f} MB "
            f"{row.seed_usd_per_month:>12.2f}"
        )
    typer.echo(
        "\nERROR keeps only failed sessions: its per-session figure is the failed-session size "
        "times the failure rate. Levels with no manifests show 0."
    )


def _bucket_manifests(settings: AgentSettings, bucket: str) -> list[Any]:
    from agent.storage.catalog import S3Catalog

    catalog = S3Catalog(aws_clients(settings).s3(), bucket, settings.env)
    try:
        return [session.manifest for session in catalog.sessions()]
    except (ClientError, BotoCoreError) as exc:
        raise AwsAccessError(
            f"cannot read the manifests in s3://{bucket}/: {exc} (estimate --bucket needs "
            "s3:ListBucket and s3:GetObject: run it with your own credentials, not the agent's)"
        ) from None


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        logger.warning("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
