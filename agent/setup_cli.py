"""The `setup` and `doctor` commands (registered on the app in cli.py)."""

from __future__ import annotations

import json
import os
from typing import Annotated

import typer

from agent.cli_common import (
    EXIT_SCRIPT_FAILED,
    EnvOption,
    SettingsOption,
    guarded,
    settings_for_command,
)
from agent.doctor import DoctorReport, diagnose, render
from agent.onboarding import SetupOutcome, SetupRequest, run_setup
from agent.runtime import aws_clients

EXIT_CHECKS_FAILED = EXIT_SCRIPT_FAILED


def setup(
    env: Annotated[
        str, typer.Option("--env", help="The environment to set up (dev, staging, prod).")
    ],
    aws_profile: Annotated[
        str | None,
        typer.Option("--aws-profile", help="The AWS profile to use (and remember) for this agent."),
    ] = None,
    region: Annotated[
        str | None, typer.Option("--region", help="The region of the infra stack.")
    ] = None,
    legacy_secret: Annotated[
        bool,
        typer.Option(
            "--legacy-secret",
            help="Machines outside AWS: read browser-agent-credentials-ENV from Secrets Manager "
            "and store it as the AWS profile browser-agent-ENV.",
        ),
    ] = False,
    settings_file: SettingsOption = None,
) -> None:
    """Discover the activity, bucket and region from SSM; check access; write settings.

    Exit 1 if a permission is missing."""
    request = SetupRequest(env, aws_profile, region, legacy_secret, settings_file)
    outcome = guarded(lambda: run_setup(request, os.environ))
    _print_setup(outcome)
    if not outcome.ok:
        raise typer.Exit(EXIT_CHECKS_FAILED)


def _print_setup(outcome: SetupOutcome) -> None:
    typer.echo(f"identity: {outcome.identity.arn}")
    typer.echo(f"wrote {outcome.settings_path} [{outcome.settings.env}]:")
    for key, value in outcome.values.items():
        typer.echo(f"  {key} = {value}  (from {outcome.sources.get(key, 'setup')})")
    for note in outcome.notes:
        typer.echo(f"note: {note}")
    for check in outcome.checks:
        if check.ok:
            typer.echo(f"ok: {check.name}{': ' + check.detail if not check.required else ''}")
        else:
            typer.echo(
                f"error: {check.name} on {check.target}: {check.detail}: {check.fix}", err=True
            )
    if outcome.ok:
        typer.echo("ready: `browser-agent run` will use these settings")


def doctor(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    env: EnvOption = None,
    settings_file: SettingsOption = None,
) -> None:
    """Who the agent is, where its settings come from, which permissions are missing.

    Each missing permission comes with its fix. Exit 1 if one is missing."""

    def work() -> DoctorReport:
        settings = settings_for_command(env, settings_file)
        return diagnose(settings, aws_clients(settings))

    report = guarded(work)
    if as_json:
        typer.echo(json.dumps(report.to_json_dict(), indent=2))
    else:
        typer.echo("\n".join(render(report)))
    if not report.ok:
        raise typer.Exit(EXIT_CHECKS_FAILED)
