"""What every command shares: common options, settings and logging, clear error lines."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from agent.config import AgentSettings, load_settings
from agent.errors import BrowserAgentError
from agent.logs import configure_logging

EXIT_SCRIPT_FAILED = 1
EXIT_BAD_INPUT = 2

T = TypeVar("T")

EnvOption = Annotated[
    str | None,
    typer.Option("--env", help="Environment section of the settings (dev, staging, prod)."),
]
SettingsOption = Annotated[
    Path | None,
    typer.Option("--settings", help="A local settings file layered over settings.toml."),
]
LevelOption = Annotated[
    str | None,
    typer.Option("--level", help="Recording level: NONE, ERROR, INFO, DEBUG or TRACE."),
]


def settings_for_command(
    env: str | None, settings_file: Path | None, **overrides: Any
) -> AgentSettings:
    settings = load_settings(env=env, settings_file=settings_file, overrides=overrides)
    configure_logging(settings.log_format, settings.log_level)
    return settings


def guarded(work: Callable[[], T]) -> T:
    """Run a command body; our own errors become one clear line and exit code 2."""
    try:
        return work()
    except BrowserAgentError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
