"""Which recording level applies, and which layer set it (spec 4.2), and clear errors for
invalid levels wherever they are given."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Cli

from agent.config import load_settings
from agent.errors import ConfigurationError, ScriptValidationError
from agent.levels import RecordingLevel
from agent.script import parse_script

VALID_NAMES = "NONE, ERROR, INFO, DEBUG, TRACE"


class _Environ:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch

    def __setitem__(self, name: str, value: str) -> None:
        self.monkeypatch.setenv(name, value)


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("BROWSER_AGENT_") or name == "RECORDING_LEVEL_OVERRIDE":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no settings.local.toml from the working folder


def test_each_layer_in_turn_sets_the_level_and_its_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    environ = _Environ(monkeypatch)

    def resolved(**kwargs: str | None) -> tuple[str, str]:
        settings = load_settings(settings_file=local)
        choice = settings.level_for(**kwargs)
        return choice.level.name, choice.source

    local = None
    environ["BROWSER_AGENT_ENV"] = "nosuchsection"
    assert resolved() == ("INFO", "settings.toml [default]")

    environ["BROWSER_AGENT_ENV"] = "staging"
    assert resolved() == ("DEBUG", "settings.toml [staging]")
    environ["BROWSER_AGENT_ENV"] = "dev"
    assert resolved() == ("TRACE", "settings.toml [dev]")

    local = tmp_path / "local.toml"
    local.write_text('[dev.recording]\nlevel = "error"\n')
    assert resolved() == ("ERROR", f"local settings file {local} [dev]")

    environ["BROWSER_AGENT_RECORDING__LEVEL"] = "info"
    assert resolved() == ("INFO", "environment variable BROWSER_AGENT_RECORDING__LEVEL")

    environ["BROWSER_AGENT_AGENT_NAME"] = "billing"
    environ["BROWSER_AGENT_RECORDING__LEVEL_BY_AGENT"] = '@json {"billing": "debug"}'
    assert resolved() == ("DEBUG", "recording.level_by_agent.billing")

    assert resolved(script_level="none") == ("NONE", "script session.recording_level")
    assert resolved(script_level="none", task_level="Trace") == (
        "TRACE",
        "task input recording_level",
    )

    environ["RECORDING_LEVEL_OVERRIDE"] = "error"
    assert resolved(script_level="none", task_level="trace") == (
        "ERROR",
        "RECORDING_LEVEL_OVERRIDE environment variable",
    )


def test_prod_section_defaults_to_info(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROWSER_AGENT_ENV", "prod")
    settings = load_settings()
    assert settings.env == "prod"
    assert settings.level.level is RecordingLevel.INFO
    assert settings.level.source == "settings.toml [prod]"


@pytest.mark.parametrize("text", ["trace", "TRACE", " Trace "])
def test_level_names_parse_case_insensitively(text: str) -> None:
    assert RecordingLevel.parse(text) is RecordingLevel.TRACE


def test_invalid_level_in_settings_file_names_value_file_and_choices(tmp_path: Path) -> None:
    local = tmp_path / "local.toml"
    local.write_text('[default.recording]\nlevel = "loud"\n')
    with pytest.raises(ConfigurationError) as raised:
        load_settings(settings_file=local)
    message = str(raised.value)
    assert "'loud'" in message and str(local) in message and VALID_NAMES in message


def test_invalid_level_in_environment_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROWSER_AGENT_RECORDING__LEVEL", "verbose")
    with pytest.raises(ConfigurationError) as raised:
        load_settings()
    message = str(raised.value)
    assert "'verbose'" in message and "BROWSER_AGENT_RECORDING__LEVEL" in message
    assert VALID_NAMES in message


def test_invalid_override_fails_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECORDING_LEVEL_OVERRIDE", "all")
    with pytest.raises(ConfigurationError) as raised:
        load_settings()
    assert "'all'" in str(raised.value) and "RECORDING_LEVEL_OVERRIDE" in str(raised.value)


def test_invalid_level_in_script_names_the_field() -> None:
    script = {
        "name": "x",
        "session": {"recording_level": "chatty"},
        "steps": [{"action": "goto", "url": "http://127.0.0.1/"}],
    }
    with pytest.raises(ScriptValidationError) as raised:
        parse_script(script)
    message = str(raised.value)
    assert "session.recording_level" in message and "'chatty'" in message
    assert VALID_NAMES in message


def test_invalid_task_level_names_its_place() -> None:
    settings = load_settings()
    with pytest.raises(ConfigurationError) as raised:
        settings.level_for(task_level="max", task_source="task input recording_level")
    assert "'max'" in str(raised.value) and "task input recording_level" in str(raised.value)


def test_config_show_reports_level_and_source(cli: Cli, tmp_path: Path) -> None:
    script = tmp_path / "s.json"
    script.write_text(
        json.dumps(
            {
                "name": "s",
                "session": {"recording_level": "debug"},
                "steps": [{"action": "goto", "url": "http://127.0.0.1/"}],
            }
        )
    )
    shown = cli("config", "show", "--json", "--script", script)
    assert shown.returncode == 0, shown.stderr
    described = json.loads(shown.stdout)
    assert described["recording_level"] == {
        "level": "DEBUG",
        "source": "script session.recording_level",
    }
    plain = cli("config", "show", env={"BROWSER_AGENT_ENV": "staging"})
    assert "recording level: DEBUG  (set by settings.toml [staging])" in plain.stdout


def test_config_show_with_invalid_env_var_is_one_clear_line(cli: Cli) -> None:
    shown = cli("config", "show", env={"BROWSER_AGENT_RECORDING__LEVEL": "loud"})
    assert shown.returncode == 2
    assert shown.stderr.strip().startswith("error: invalid recording level 'loud'")
    assert "Traceback" not in shown.stderr
