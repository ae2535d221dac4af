"""`browser-agent run` (the activity worker) and `browser-agent healthcheck`."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from agent.cli_common import EnvOption, SettingsOption, guarded, settings_for_command
from agent.worker import ActivityWorker, check_liveness, worker_options

EXIT_UNHEALTHY = 1


def run(
    activity_arn: Annotated[
        str | None,
        typer.Option("--activity-arn", help="The activity to poll (default: activity_arn)."),
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency", min=1, max=64, help="Tasks run at once (worker.concurrency)."
        ),
    ] = None,
    worker_name: Annotated[
        str | None,
        typer.Option("--worker-name", help="Name shown in the execution history (agent_name)."),
    ] = None,
    bucket: Annotated[
        str | None, typer.Option("--bucket", help="S3 bucket for recordings (s3_bucket).")
    ] = None,
    env: EnvOption = None,
    settings_file: SettingsOption = None,
) -> None:
    """Take tasks from a Step Functions activity until SIGTERM/SIGINT; then drain and exit 0."""

    def work() -> None:
        settings = settings_for_command(env, settings_file, s3_bucket=bucket)
        options = worker_options(settings, activity_arn, worker_name, concurrency)
        asyncio.run(ActivityWorker(settings, options).run())

    guarded(work)


def healthcheck(
    max_age: Annotated[
        float | None,
        typer.Option(
            "--max-age",
            help="Seconds the liveness file may be old (default: 3 health intervals).",
        ),
    ] = None,
    env: EnvOption = None,
    settings_file: SettingsOption = None,
) -> None:
    """Exit 0 while `browser-agent run` is alive (its liveness file is fresh), else 1."""
    settings = guarded(lambda: settings_for_command(env, settings_file))
    worker = settings.worker
    health = check_liveness(worker.health_file, max_age or 3 * worker.health_interval_seconds)
    typer.echo(("healthy: " if health.healthy else "unhealthy: ") + health.reason)
    if not health.healthy:
        raise typer.Exit(EXIT_UNHEALTHY)


def register_worker_commands(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("healthcheck")(healthcheck)
