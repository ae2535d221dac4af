"""Whole-session media at TRACE: video, Playwright trace, HAR without bodies, console log.

Videos and HARs are complete only once their browser context is closed, so `finish` closes
the context before anything is handed on. Every text inside them is scrubbed of secrets.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loguru import logger
from playwright.async_api import BrowserContext, ConsoleMessage, Error, Page

from agent.recording.policy import Role
from agent.recording.recorder import SessionRecorder
from agent.redaction import SecretRedactor

VIDEO_NAME = "video.webm"
TRACE_NAME = "trace.zip"
HAR_NAME = "network.har"
CONSOLE_NAME = "console.log"
_MEDIA_DIR = ".media"


class SessionMedia:
    """Present only at TRACE; the executor asks it where the context should record."""

    def __init__(self, recorder: SessionRecorder, redactor: SecretRedactor, video: bool) -> None:
        self.recorder = recorder
        self.redactor = redactor
        self.dir = recorder.staging_dir / _MEDIA_DIR
        self.dir.mkdir(parents=True, exist_ok=True)
        self.video_dir = self.dir / "video" if video else None
        self.har_path = self.dir / HAR_NAME
        self._console: list[str] = []
        self._page: Page | None = None

    async def attach(self, context: BrowserContext, page: Page) -> None:
        self._page = page
        page.on("console", self._on_console)
        page.on("pageerror", self._on_page_error)
        await context.tracing.start(screenshots=True, snapshots=True, sources=False)

    def _on_console(self, message: ConsoleMessage) -> None:
        location = message.location
        where = f" ({location.get('url')}:{location.get('lineNumber')})" if location else ""
        self._log(f"console.{message.type}: {message.text}{where}")

    def _on_page_error(self, error: Error) -> None:
        self._log(f"pageerror: {error.message}")

    def _log(self, line: str) -> None:
        self._console.append(f"{datetime.now(UTC).isoformat()} {line}")

    async def finish(self, context: BrowserContext) -> None:
        """Stop the trace, close the context (finalising video and HAR), scrub, register."""
        staging = self.recorder.staging_dir
        trace_raw = self.dir / TRACE_NAME
        try:
            await context.tracing.stop(path=str(trace_raw))
        except Error as exc:
            logger.warning("the trace could not be saved: {}", exc)
        video = self._page.video if self._page is not None else None
        await context.close()
        if trace_raw.exists():
            scrub_zip(trace_raw, staging / TRACE_NAME, self.redactor)
            self.recorder.add_file(staging / TRACE_NAME, "trace", "application/zip", {Role.SESSION})
        if self.har_path.exists():
            strip_har(self.har_path, staging / HAR_NAME, self.redactor)
            self.recorder.add_file(staging / HAR_NAME, "har", "application/json", {Role.SESSION})
        if video is not None:
            await self._keep_video(video, staging / VIDEO_NAME)
        console = staging / CONSOLE_NAME
        console.write_text(self.redactor.redact("\n".join(self._console) + "\n"), encoding="utf-8")
        self.recorder.add_file(console, "console", "text/plain; charset=utf-8", {Role.SESSION})
        shutil.rmtree(self.dir, ignore_errors=True)

    async def _keep_video(self, video: Any, target: Path) -> None:
        try:
            source = Path(await video.path())
        except Error as exc:
            logger.warning("the video could not be saved: {}", exc)
            return
        if source.exists() and source.stat().st_size > 0:
            source.replace(target)
            self.recorder.add_file(target, "video", "video/webm", {Role.SESSION})
        else:
            logger.warning("the video is empty; not kept")


def scrub_zip(source: Path, target: Path, redactor: SecretRedactor) -> None:
    """Copy a zip, replacing secrets in every entry (Playwright traces keep typed text)."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
        for entry in zin.infolist():
            zout.writestr(entry.filename, redactor.redact_bytes(zin.read(entry)))
    source.unlink()


def strip_har(source: Path, target: Path, redactor: SecretRedactor) -> None:
    """Drop request bodies (responses are already omitted) and scrub every string left."""
    har = json.loads(source.read_text(encoding="utf-8"))
    for entry in har.get("log", {}).get("entries", []):
        request = entry.get("request", {})
        if "postData" in request:
            request["postData"] = {"mimeType": request["postData"].get("mimeType", ""), "text": ""}
    target.write_text(json.dumps(redactor.redact_data(har), indent=1), encoding="utf-8")
    source.unlink()
