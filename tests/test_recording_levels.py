"""Each recording level keeps exactly the artifact set of spec 4.1, for a succeeding and a failing
session, run in real headless Chromium against the demo site."""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.browser import BrowserDriver
from agent.demo.site import DemoSite
from agent.executor import ExecutorSettings, ScriptExecutor
from agent.levels import LevelChoice, RecordingLevel
from agent.result import RunResult
from agent.script import bind, parse_script
from agent.storage import LocalFolderStore

SUCCEEDING = {
    "name": "levels-succeeding",
    "variables": {"base_url": {"required": True}},
    "steps": [
        {"action": "goto", "url": "{{base_url}}/form"},
        {"action": "fill", "selector": "#full-name", "value": "Grace Hopper"},
        {"action": "click", "selector": "#next"},
        {"action": "wait_for", "text": "Hello"},
        {"action": "extract", "name": "greeting", "selector": "#greeting"},
        {"action": "screenshot", "name": "plan"},
    ],
}
FAILING = {
    "name": "levels-failing",
    "variables": {"base_url": {"required": True}},
    "steps": [
        {"action": "goto", "url": "{{base_url}}/form"},
        {"action": "fill", "selector": "#full-name", "value": "Grace Hopper"},
        {"action": "click", "selector": "#next"},
        {"action": "wait_for", "text": "Hello"},
        {"action": "select", "selector": "#plan", "value": "pro"},
        {"action": "assert", "selector": "#never-there", "timeout_ms": 500},
        {"action": "screenshot", "name": "never"},
    ],
}


def _step_pair(n: int, action: str) -> set[str]:
    return {f"steps/{n:03d}-{action}.png", f"steps/{n:03d}-{action}.html"}


SESSION_MEDIA = {"video.webm", "trace.zip", "network.har", "console.log"}
# Written out from spec 4.1 by hand (ring buffer of 3 steps before the failing one; key steps
# are navigations and submits, extract, screenshot; the failure capture is the session's last page).
INFO_OK = {"final.png", "final.html", "extracts/greeting.json", "screenshots/plan.png"}
DEBUG_OK = INFO_OK | _step_pair(1, "goto") | _step_pair(3, "click") | _step_pair(5, "extract")
DEBUG_OK |= _step_pair(6, "screenshot")
TRACE_OK = INFO_OK | SESSION_MEDIA
for _n, _a in enumerate(["goto", "fill", "click", "wait_for", "extract", "screenshot"], 1):
    TRACE_OK |= _step_pair(_n, _a)
ERROR_SET = {"failure.png", "failure.html", "error.json"}
ERROR_SET |= _step_pair(3, "click") | _step_pair(4, "wait_for") | _step_pair(5, "select")
DEBUG_FAIL = ERROR_SET | _step_pair(1, "goto")
TRACE_FAIL = ERROR_SET | SESSION_MEDIA | _step_pair(1, "goto") | _step_pair(2, "fill")

EXPECTED: dict[tuple[RecordingLevel, bool], set[str]] = {
    (RecordingLevel.NONE, True): set(),
    (RecordingLevel.NONE, False): set(),
    (RecordingLevel.ERROR, True): set(),
    (RecordingLevel.ERROR, False): ERROR_SET,
    (RecordingLevel.INFO, True): INFO_OK,
    (RecordingLevel.INFO, False): ERROR_SET,
    (RecordingLevel.DEBUG, True): DEBUG_OK,
    (RecordingLevel.DEBUG, False): DEBUG_FAIL,
    (RecordingLevel.TRACE, True): TRACE_OK,
    (RecordingLevel.TRACE, False): TRACE_FAIL,
}


class BrowserRunner:
    """One real Chromium for the module, driven from a private event loop."""

    def __init__(self) -> None:
        self.loop = asyncio.Runner()
        self.driver = BrowserDriver()
        self.loop.run(self.driver.start())

    def run(
        self, script: dict[str, Any], variables: dict[str, str], level: RecordingLevel, spool: Path
    ) -> RunResult:
        executor = ScriptExecutor(
            self.driver, LocalFolderStore(spool), ExecutorSettings(spool_dir=spool, env="test")
        )
        bound = bind(parse_script(script), variables)
        return self.loop.run(executor.run(bound, LevelChoice(level, "test")))

    def close(self) -> None:
        self.loop.run(self.driver.close())
        self.loop.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[BrowserRunner]:
    runner = BrowserRunner()
    yield runner
    runner.close()


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def session_files(root: Path) -> set[str]:
    manifests = list(root.rglob("manifest.json"))
    if not manifests:
        return set()
    (manifest,) = manifests
    return {p.relative_to(manifest.parent).as_posix() for p in files_under(manifest.parent)}


@pytest.mark.parametrize(("level", "success"), list(EXPECTED), ids=lambda v: str(v))
def test_level_keeps_exactly_the_spec_artifact_set(
    browser: BrowserRunner,
    demo_site: DemoSite,
    tmp_path: Path,
    level: RecordingLevel,
    success: bool,
) -> None:
    result = browser.run(
        SUCCEEDING if success else FAILING, {"base_url": demo_site.url}, level, tmp_path
    )
    assert result.success is success
    expected = EXPECTED[(level, success)]
    if not expected:
        assert files_under(tmp_path) == [], "nothing at all may be kept"
        assert result.recording.bytes == 0
        assert result.recording.upload_status == "none"
        return
    assert session_files(tmp_path) == expected | {"manifest.json"}
    assert not (tmp_path / ".staging").exists() or not any((tmp_path / ".staging").iterdir())
    manifest_path = next(tmp_path.rglob("manifest.json"))
    assert result.recording.manifest_uri == manifest_path.resolve().as_uri()
    assert result.recording.upload_status == "none", "the local-folder store uploads nothing"
    manifest = json.loads(manifest_path.read_text())
    assert manifest["level"] == level.name and manifest["level_source"] == "test"
    assert manifest["outcome"] == ("succeeded" if success else "failed")
    listed = {a["key"] for a in manifest["artifacts"]}
    assert listed == expected
    for artifact in manifest["artifacts"]:
        data = (manifest_path.parent / artifact["key"]).read_bytes()
        assert artifact["bytes"] == len(data) > 0
        assert artifact["sha256"] == hashlib.sha256(data).hexdigest()
    totals: dict[str, int] = {}
    for artifact in manifest["artifacts"]:
        totals[artifact["type"]] = totals.get(artifact["type"], 0) + artifact["bytes"]
    assert {k: v["bytes"] for k, v in manifest["totals"].items()} == totals
    assert result.recording.bytes == sum(totals.values())
    assert result.recording.manifest_uri == manifest_path.resolve().as_uri()


def test_trace_video_has_frames_and_duration(
    browser: BrowserRunner, demo_site: DemoSite, tmp_path: Path
) -> None:
    browser.run(SUCCEEDING, {"base_url": demo_site.url}, RecordingLevel.TRACE, tmp_path)
    video = next(tmp_path.rglob("video.webm"))
    probe = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
            str(video),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert float(probe.stdout.strip()) > 0


def test_trace_zip_has_playwright_trace_structure(
    browser: BrowserRunner, demo_site: DemoSite, tmp_path: Path
) -> None:
    import zipfile

    browser.run(SUCCEEDING, {"base_url": demo_site.url}, RecordingLevel.TRACE, tmp_path)
    with zipfile.ZipFile(next(tmp_path.rglob("trace.zip"))) as archive:
        names = set(archive.namelist())
        assert {"trace.trace", "trace.network"} <= names
        events = [json.loads(line) for line in archive.read("trace.trace").splitlines() if line]
    assert events[0]["type"] == "context-options"
    methods = {e.get("method") for e in events if e.get("type") == "before"}
    assert {"goto", "fill", "click"} <= methods
    referenced = {e["sha1"] for e in events if e.get("type") == "screencast-frame"}
    assert referenced and all(f"resources/{sha1}" in names for sha1 in referenced)
