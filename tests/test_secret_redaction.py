"""A script that types secrets (a password field and a secret in a plain text field) at TRACE:
the secret's bytes appear in no produced file, and screenshots mask where it is shown."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import urllib.parse
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Cli, browser_agent_executable
from PIL import Image

from agent.demo.site import DemoSite
from agent.redaction import encoded_forms

# Quotes, ampersand, space and markup, so every encoding differs; each run of letters and
# digits is distinctive, so a leak in an encoding we did not think of is still found.
TYPED_SECRET = 'Zq9"Wv7&Kp4 y<b>'
DISTINCTIVE_PARTS = (b"Zq9", b"Wv7", b"Kp4")
MASK_COLOUR = (255, 0, 255)  # Playwright's default screenshot mask colour

SCRIPT = {
    "name": "secret-fields",
    "variables": {
        "base_url": {"required": True},
        "username": {"required": True},
        "password": {"required": True, "secret": True},
        "token": {"required": True, "secret": True},
    },
    "steps": [
        {"action": "goto", "url": "{{base_url}}/echo"},
        {"action": "fill", "selector": "#echo-input", "value": "{{token}}"},
        {"action": "press", "selector": "#echo-input", "key": "Tab"},
        {"action": "screenshot", "name": "echo"},
        {"action": "goto", "url": "{{base_url}}/login"},
        {"action": "fill", "selector": "#username", "value": "{{username}}"},
        {"action": "fill", "selector": "#password", "value": "{{password}}"},
        {"action": "screenshot", "name": "login"},
        {"action": "click", "selector": "#login-button", "description": "submit login"},
        {"action": "wait_for", "url": "**/account"},
        {"action": "assert", "text": "{{token}}", "present": False, "timeout_ms": 1000},
    ],
}


def forbidden_needles() -> list[bytes]:
    forms = {f.encode() for s in (TYPED_SECRET, DemoSite.PASSWORD) for f in encoded_forms(s)}
    return sorted(forms | set(DISTINCTIVE_PARTS), key=len)


def all_bytes(path: Path) -> Iterator[tuple[str, bytes]]:
    """Every file, and every entry of every zip inside it (trace.zip), unpacked."""
    data = path.read_bytes()
    yield str(path), data
    if zipfile.is_zipfile(io.BytesIO(data)):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for name in archive.namelist():
                yield f"{path}!{name}", archive.read(name)


@pytest.fixture(scope="module")
def cli_module(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    return Cli(browser_agent_executable(), tmp_path_factory.mktemp("cli"))


@pytest.fixture(scope="module")
def trace_run(
    tmp_path_factory: pytest.TempPathFactory, demo_site: DemoSite, cli_module: Cli
) -> tuple[Path, str, str]:
    out = tmp_path_factory.mktemp("secret-run")
    script = out / "secret.json"
    script.write_text(json.dumps(SCRIPT))
    result = cli_module(
        "run-script",
        script,
        "--level",
        "trace",
        "--out",
        out / "rec",
        "--var",
        f"base_url={demo_site.url}",
        "--var",
        f"username={DemoSite.USERNAME}",
        "--secret",
        "password=env:DEMO_PASSWORD",
        "--secret",
        "token=env:DEMO_TOKEN",
        env={"DEMO_PASSWORD": DemoSite.PASSWORD, "DEMO_TOKEN": TYPED_SECRET},
    )
    assert result.returncode == 0, result.stderr
    return out / "rec", result.stdout, result.stderr


def test_secret_bytes_appear_in_no_artifact_log_or_result(trace_run: tuple[Path, str, str]) -> None:
    root, stdout, stderr = trace_run
    kept = {p.name for p in root.rglob("*") if p.is_file()}
    assert {"trace.zip", "network.har", "video.webm", "console.log", "manifest.json"} <= kept
    haystacks = [("stdout", stdout.encode()), ("stderr", stderr.encode())]
    for path in root.rglob("*"):
        if path.is_file():
            haystacks.extend(all_bytes(path))
    for where, data in haystacks:
        for needle in forbidden_needles():
            assert needle not in data, f"{needle!r} found in {where}"


def test_har_keeps_requests_but_no_bodies(trace_run: tuple[Path, str, str]) -> None:
    root, _, _ = trace_run
    har = json.loads(next(root.rglob("network.har")).read_text())
    entries = har["log"]["entries"]
    posts = [e for e in entries if e["request"]["method"] == "POST"]
    assert posts, "the login POST is in the HAR"
    assert all(e["request"].get("postData", {}).get("text", "") == "" for e in posts)
    assert all(not e["response"]["content"].get("text") for e in entries)


def _box_is_masked(png: Path, box: dict[str, float]) -> bool:
    image = Image.open(png).convert("RGB")
    inner = (
        int(box["x"]) + 2,
        int(box["y"]) + 2,
        int(box["x"] + box["width"]) - 2,
        int(box["y"] + box["height"]) - 2,
    )
    colours = image.crop(inner).getcolors(maxcolors=1 << 16) or []
    return [colour for _, colour in colours] == [MASK_COLOUR]


def test_screenshots_mask_the_secret_fields_and_echoed_text(
    trace_run: tuple[Path, str, str], demo_site: DemoSite
) -> None:
    root, _, _ = trace_run
    boxes = element_boxes(demo_site, TYPED_SECRET)
    echo = next(root.rglob("screenshots/echo.png"))
    assert _box_is_masked(echo, boxes["#echo-input"])
    assert _box_is_masked(echo, boxes["#echo-output"])
    login = next(root.rglob("screenshots/login.png"))
    assert _box_is_masked(login, boxes["#password"])
    assert not _box_is_masked(login, boxes["#username"]), "non-secret fields stay visible"


def element_boxes(site: DemoSite, typed: str) -> dict[str, dict[str, float]]:
    """Where the fields are on the page, measured in a separate real browser."""
    code = f"""
import asyncio, json
from agent.browser import BrowserDriver, ContextOptions
async def main():
    async with BrowserDriver() as d:
        ctx = await d.new_context(ContextOptions())
        page = await ctx.new_page()
        await page.goto({site.url + "/echo"!r})
        await page.fill("#echo-input", {typed!r})
        boxes = {{s: await page.locator(s).bounding_box() for s in ("#echo-input", "#echo-output")}}
        await page.goto({site.url + "/login"!r})
        for s in ("#username", "#password"):
            boxes[s] = await page.locator(s).bounding_box()
        print(json.dumps(boxes))
        await ctx.close()
asyncio.run(main())
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def test_trace_opens_in_playwright_trace_viewer(trace_run: tuple[Path, str, str]) -> None:
    """`playwright show-trace` serves its viewer; a real Chromium loads our trace.zip in it."""
    root, _, _ = trace_run
    trace = next(root.rglob("trace.zip"))
    server = subprocess.Popen(
        [sys.executable, "-m", "playwright", "show-trace", "-h", "127.0.0.1", "-p", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PLAYWRIGHT_BROWSERS_PATH": str(root / "no-browsers")},
    )
    try:
        assert server.stdout is not None
        seen = []
        for line in server.stdout:  # a blank line, then "Listening on http://127.0.0.1:PORT"
            seen.append(line)
            if line.startswith("Listening on ") or len(seen) > 5:
                break
        assert seen[-1].startswith("Listening on "), seen
        base = seen[-1].strip().rsplit(" ", 1)[-1]
        file_url = f"{base}/trace/file?path={urllib.parse.quote(str(trace))}"
        viewer = f"{base}/trace/index.html?trace={urllib.parse.quote(file_url)}"
        actions = viewer_actions(viewer)
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert any(a.startswith("Navigate to") for a in actions)
    assert any(a.startswith("Fill") for a in actions)
    assert not any(DemoSite.PASSWORD in a or "Zq9" in a for a in actions), actions


def viewer_actions(url: str) -> list[str]:
    code = f"""
import asyncio, json
from agent.browser import BrowserDriver, ContextOptions
async def main():
    async with BrowserDriver() as d:
        ctx = await d.new_context(ContextOptions())
        page = await ctx.new_page()
        await page.goto({url!r})
        titles = page.locator(".action-title")
        await titles.first.wait_for(timeout=30000)
        print(json.dumps(await titles.all_inner_texts()))
        await ctx.close()
asyncio.run(main())
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]
