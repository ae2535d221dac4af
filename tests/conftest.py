"""Shared fixtures: one demo site per session, and the real `browser-agent` command line."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import NamedTuple, TypeVar

import pytest
from localstack import localstack  # noqa: F401  (the session-wide LocalStack fixture)

from agent.demo.site import DemoSite

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLES_DIR = REPO_ROOT / "examples"
CLI_TIMEOUT_S = 180
T = TypeVar("T")
_DROPPED_ENV_PREFIXES = ("BROWSER_AGENT_",)
_DROPPED_ENV_NAMES = ("RECORDING_LEVEL_OVERRIDE",)


class CliResult(NamedTuple):
    returncode: int
    stdout: str
    stderr: str

    def error_lines(self) -> list[str]:
        """The `error:` lines the CLI printed on stderr."""
        return [line for line in self.stderr.splitlines() if line.startswith("error:")]


def browser_agent_executable() -> Path:
    """The installed `browser-agent` script of the interpreter running the tests."""
    beside_python = Path(sys.executable).parent / "browser-agent"
    if beside_python.is_file():
        return beside_python
    found = shutil.which("browser-agent")
    if found is None:
        raise RuntimeError("the browser-agent executable is not installed (pip install -e .)")
    return Path(found)


def clean_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """os.environ without the agent's own settings, plus `extra`."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(_DROPPED_ENV_PREFIXES) and name not in _DROPPED_ENV_NAMES
    }
    env.update(extra or {})
    return env


class Cli:
    """Runs `browser-agent` as a subprocess in its own working folder with a clean environment."""

    def __init__(self, executable: Path, cwd: Path) -> None:
        self.executable = executable
        self.cwd = cwd

    def __call__(self, *args: str | Path, env: Mapping[str, str] | None = None) -> CliResult:
        completed = subprocess.run(
            [str(self.executable), *(str(a) for a in args)],
            cwd=self.cwd,
            env=clean_environment(env),
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_S,
            check=False,
        )
        return CliResult(completed.returncode, completed.stdout, completed.stderr)


@pytest.fixture(scope="session")
def demo_site() -> Iterator[DemoSite]:
    with DemoSite() as site:
        yield site


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    return Cli(browser_agent_executable(), cwd)


def _expanded(data: bytes) -> Iterator[bytes]:
    """The bytes themselves and, for a zip archive (trace.zip), every member's bytes too."""
    yield data
    if data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                for member in archive.namelist():
                    yield from _expanded(archive.read(member))
        except zipfile.BadZipFile:
            pass


def find_secret(secret: str, texts: Mapping[str, str], roots: list[Path]) -> list[str]:
    """Where `secret` occurs: among the named texts and every file under `roots`."""
    needle = secret.encode()
    hits = [name for name, text in texts.items() if needle in text.encode()]
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file() and any(needle in chunk for chunk in _expanded(path.read_bytes())):
                hits.append(str(path))
    return hits


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def wait_until(
    condition: Callable[[], T], what: str, timeout_s: float = 30, interval_s: float = 0.05
) -> T:
    """Poll `condition` until it returns something truthy (returned); fail naming `what` at the
    deadline. Tests wait on a condition this way, never by sleeping a fixed time."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(interval_s)
