"""The files `setup` writes: the local settings file and the AWS profile files. Both keep what
was there before."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from agent.config import load_settings
from agent.legacy_credentials import LegacySecret, write_profile
from agent.settings_file import write_settings


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("BROWSER_AGENT_") or name == "RECORDING_LEVEL_OVERRIDE":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_setup_of_a_second_env_keeps_the_first_and_becomes_the_default(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text(
        '[default.recording]\nlevel_by_agent = { billing = "DEBUG" }\n'
        '[staging]\nactivity_arn = "arn:aws:states:eu-west-1:123456789012:activity:a"\n'
    )
    arn = "arn:aws:states:eu-west-2:123456789012:activity:browser-remote-prod"
    write_settings(path, "prod", {"activity_arn": arn, "recording.level": "ERROR"})

    data = tomllib.loads(path.read_text())
    assert data["default"]["env"] == "prod"
    assert data["default"]["recording"]["level_by_agent"] == {"billing": "DEBUG"}
    assert data["staging"]["activity_arn"].endswith(":activity:a")
    assert data["prod"] == {"activity_arn": arn, "recording": {"level": "ERROR"}}
    settings = load_settings(settings_file=path)
    assert (settings.env, settings.activity_arn) == ("prod", arn)
    assert settings.level.level.name == "ERROR"
    assert settings.sources["env"] == f"local settings file {path} [default]"
    assert load_settings(env="staging", settings_file=path).activity_arn.endswith(":a")  # type: ignore[union-attr]


def test_a_written_profile_replaces_its_own_section_only(tmp_path: Path) -> None:
    credentials, config = tmp_path / "credentials", tmp_path / "config"
    credentials.write_text(
        "[default]\naws_access_key_id = AKIAOLD\n\n[browser-agent-prod]\n"
        "aws_access_key_id = AKIASTALE\naws_secret_access_key = stale\n\n[other]\nx = 1\n"
    )
    secret = LegacySecret("AKIANEW", "new-secret", "eu-west-2", "arn", "bucket")
    environ = {"AWS_SHARED_CREDENTIALS_FILE": str(credentials), "AWS_CONFIG_FILE": str(config)}

    write_profile(secret, "browser-agent-prod", environ)

    text = credentials.read_text()
    assert "AKIASTALE" not in text and "stale" not in text
    assert text.startswith("[default]\naws_access_key_id = AKIAOLD\n\n[other]\nx = 1\n")
    assert text.endswith(
        "[browser-agent-prod]\naws_access_key_id = AKIANEW\naws_secret_access_key = new-secret\n"
    )
    assert config.read_text() == "[profile browser-agent-prod]\nregion = eu-west-2\n"
    assert "new-secret" not in repr(secret)
