"""Finding Chromium: configured path, Playwright's bundled build, then the system PATH.

The lookup tests use fake executables that are never launched; the last test runs the real CLI.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from conftest import EXAMPLES_DIR, Cli

from agent.browser import find_chromium
from agent.browser.finder import SYSTEM_CHROMIUM_NAMES
from agent.errors import BrowserNotFound


def _fake_executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 97\n", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


@pytest.fixture
def system_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """PATH holds only one empty folder; tests put fake browsers into it."""
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", str(folder))
    return folder


def test_configured_path_wins_over_bundled_and_system(tmp_path: Path, system_path: Path) -> None:
    configured = _fake_executable(tmp_path / "configured" / "my-chrome")
    bundled = _fake_executable(tmp_path / "bundled" / "chrome")
    _fake_executable(system_path / "chromium")
    assert find_chromium(str(configured), str(bundled)) == configured


def test_bundled_wins_over_system_when_nothing_is_configured(
    tmp_path: Path, system_path: Path
) -> None:
    bundled = _fake_executable(tmp_path / "bundled" / "chrome")
    _fake_executable(system_path / "chromium")
    assert find_chromium(None, str(bundled)) == bundled


def test_missing_configured_path_raises_naming_it(tmp_path: Path, system_path: Path) -> None:
    # Even with a usable bundled and system browser, a wrong configured path is an error.
    bundled = _fake_executable(tmp_path / "bundled" / "chrome")
    _fake_executable(system_path / "chromium")
    missing = tmp_path / "nowhere" / "chrome"
    with pytest.raises(BrowserNotFound) as caught:
        find_chromium(str(missing), str(bundled))
    assert str(missing) in caught.value.message
    assert caught.value.code == "BrowserAgent.BrowserNotFound"


def test_configured_path_that_is_not_executable_raises(tmp_path: Path) -> None:
    plain = tmp_path / "not-executable"
    plain.write_text("", encoding="utf-8")
    plain.chmod(0o644)
    with pytest.raises(BrowserNotFound, match="not-executable"):
        find_chromium(str(plain), None)


@pytest.mark.parametrize("name", SYSTEM_CHROMIUM_NAMES)
def test_system_path_is_used_when_bundled_is_missing(
    tmp_path: Path, system_path: Path, name: str
) -> None:
    fake = _fake_executable(system_path / name)
    assert find_chromium(None, str(tmp_path / "bundled-not-installed" / "chrome")) == fake


def test_nothing_anywhere_names_every_place_tried(tmp_path: Path, system_path: Path) -> None:
    bundled = tmp_path / "bundled-not-installed" / "chrome"
    # A non-executable file called chromium on PATH does not count.
    (system_path / "chromium").write_text("", encoding="utf-8")
    (system_path / "chromium").chmod(0o644)
    with pytest.raises(BrowserNotFound) as caught:
        find_chromium(None, str(bundled))
    message = caught.value.message
    assert "browser.executable_path" in message
    assert str(bundled) in message
    assert "PATH" in message
    for name in SYSTEM_CHROMIUM_NAMES:
        assert name in message


@pytest.mark.browser
def test_cli_reports_missing_configured_browser_as_one_error_line(cli: Cli) -> None:
    result = cli(
        "run-script",
        EXAMPLES_DIR / "results_table.json",
        "--demo-site",
        "--out",
        cli.cwd / "out",
        env={"BROWSER_AGENT_BROWSER__EXECUTABLE_PATH": "/nonexistent"},
    )
    assert result.returncode == 2, result
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stdout == ""
    errors = result.error_lines()
    assert len(errors) == 1, result.stderr
    assert "/nonexistent" in errors[0]
    assert "BROWSER_AGENT_BROWSER__EXECUTABLE_PATH" in errors[0]
