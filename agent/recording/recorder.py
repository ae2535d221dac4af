"""Capturing a session per step and keeping what its level asks for (spec 4.1).

Everything is written to a staging folder first; `finish` deletes what the level does not
keep, writes `manifest.json` last and hands the complete folder to the store.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from loguru import logger
from playwright.async_api import Locator, Page

from agent.recording.manifest import MANIFEST_NAME, ArtifactRecord, SessionManifest
from agent.recording.policy import RecordingPolicy, Role
from agent.redaction import SecretRedactor
from agent.result import RecordingSummary, RunError, StepResult
from agent.storage.base import ArtifactStore

PASSWORD_INPUTS = "input[type=password]"
# Set on fields found holding a secret after a step typed into fields the agent did not pick.
SECRET_FIELD_ATTRIBUTE = "data-browser-agent-secret"
_MARK_SECRET_FIELDS_JS = """
([secrets, attribute]) => {
  for (const el of document.querySelectorAll("input, textarea")) {
    if (secrets.some((s) => (el.value || "").includes(s))) {
      el.setAttribute(attribute, "");
      el.style.setProperty("-webkit-text-security", "disc", "important");
    }
  }
}
"""
CAPTURE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class SessionInfo:
    session_id: str
    script: str
    script_version: str
    agent_name: str
    env: str
    level_source: str
    started_at: datetime
    task_id: str | None = None


@dataclass
class _Captured:
    path: Path
    type: str
    step: int | None
    roles: set[Role]
    content_type: str


@dataclass
class SessionRecorder:
    policy: RecordingPolicy
    info: SessionInfo
    staging_dir: Path
    redactor: SecretRedactor = field(default_factory=SecretRedactor)
    _captured: list[_Captured] = field(default_factory=list)
    _masked_selectors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.policy.records:
            self.staging_dir.mkdir(parents=True, exist_ok=True)

    async def hide_secret_field(self, page: Page, selector: str) -> None:
        """Before a secret is typed into a field: mask it in screenshots, draw it as dots."""
        if selector not in self._masked_selectors:
            self._masked_selectors.append(selector)
        try:  # visual only (video, trace frames); the page's own scripts see no difference
            await page.locator(selector).first.evaluate(
                "el => el.style.setProperty('-webkit-text-security', 'disc', 'important')",
                timeout=2_000,
            )
        except Exception as exc:
            logger.debug("could not restyle the secret field {}: {}", selector, exc)

    async def hide_fields_holding_secrets(self, page: Page) -> None:
        """After a step that may have typed a secret anywhere (a Nova Act prompt holding one):
        mask every field whose value holds a secret, in screenshots and on screen."""
        if not self.redactor.secrets:
            return
        selector = f"[{SECRET_FIELD_ATTRIBUTE}]"
        if selector not in self._masked_selectors:
            self._masked_selectors.append(selector)
        try:
            for frame in page.frames:
                await asyncio.wait_for(
                    frame.evaluate(
                        _MARK_SECRET_FIELDS_JS, [self.redactor.secrets, SECRET_FIELD_ATTRIBUTE]
                    ),
                    CAPTURE_TIMEOUT_S,
                )
        except Exception as exc:
            reason = self.redactor.redact(str(exc))
            logger.debug("could not mark fields holding secrets: {}", reason)

    def keep_session_file(
        self, name: str, data: bytes, *, type: str, content_type: str, step: int | None
    ) -> None:
        """A whole-session file another component wrote (Nova Act's act traces): kept at
        TRACE only, scrubbed of secrets. `name` is a path inside the session folder."""
        if self.policy.records_session_media:
            path = self._path(name)
            path.write_bytes(self.redactor.redact_bytes(data))
            self._captured.append(_Captured(path, type, step, {Role.SESSION}, content_type))

    async def after_step(self, page: Page, step: int, action: str, navigated: bool) -> None:
        roles = self.policy.step_roles(action, navigated)
        if roles:
            await self._capture_page(page, f"steps/{step:03d}-{action}", step, roles)
            self._prune_ring()

    async def explicit_screenshot(self, page: Page, step: int, name: str, full_page: bool) -> None:
        if self.policy.records:
            await self._screenshot(
                page, f"screenshots/{name}.png", step, {Role.EXPLICIT}, full_page
            )

    def extract_output(self, step: int, name: str, data: Any) -> None:
        if self.policy.records:
            self._write_json(f"extracts/{name}.json", data, "extract", step, {Role.EXTRACT})

    async def failure(self, page: Page | None, step: int | None, error: RunError) -> None:
        if not self.policy.records:
            return
        if page is not None and not page.is_closed():
            await self._capture_page(page, "failure", step, {Role.FAILURE})
        self._write_json("error.json", error.model_dump(), "error", step, {Role.FAILURE})

    async def final(self, page: Page | None) -> None:
        if self.policy.records and page is not None and not page.is_closed():
            await self._capture_page(page, "final", None, {Role.FINAL})

    def add_file(self, path: Path, type: str, content_type: str, roles: set[Role]) -> None:
        """Register a file written into the staging folder by someone else (video, trace)."""
        if path.exists():
            self._captured.append(_Captured(path, type, None, roles, content_type))

    def finish(
        self,
        *,
        success: bool,
        steps: list[StepResult],
        error: RunError | None,
        store: ArtifactStore,
        prefix: str,
        ended_at: datetime,
    ) -> RecordingSummary:
        """Keep what the level keeps; hand a non-empty session to the store."""
        summary = RecordingSummary(
            level=self.policy.level.name, level_source=self.info.level_source
        )
        kept_roles = self.policy.kept_roles(success)
        kept = [c for c in self._captured if c.roles & kept_roles and c.path.exists()]
        for capture in self._captured:
            if capture not in kept:
                capture.path.unlink(missing_ok=True)
        if not kept:
            shutil.rmtree(self.staging_dir, ignore_errors=True)
            return summary
        artifacts = [
            ArtifactRecord.of_file(
                self.staging_dir,
                c.path,
                type=c.type,
                step=c.step,
                roles=sorted(r.value for r in c.roles),
                content_type=c.content_type,
            )
            for c in kept
        ]
        manifest = SessionManifest(
            session_id=self.info.session_id,
            task_id=self.info.task_id,
            script=self.info.script,
            script_version=self.info.script_version,
            agent_name=self.info.agent_name,
            env=self.info.env,
            level=self.policy.level.name,
            level_source=self.info.level_source,
            started_at=self.info.started_at,
            ended_at=ended_at,
            outcome="succeeded" if success else "failed",
            error=error,
            steps=steps,
            artifacts=artifacts,
            totals=SessionManifest.totals_of(artifacts),
        )
        manifest_text = self.redactor.redact(manifest.to_json())
        (self.staging_dir / MANIFEST_NAME).write_text(manifest_text, encoding="utf-8")
        stored = store.put_session(self.staging_dir, prefix)
        summary.manifest_uri = stored.manifest_uri
        summary.upload_status = stored.upload_status
        summary.artifacts = len(artifacts)
        summary.bytes = manifest.total_bytes
        return summary

    async def _capture_page(
        self, page: Page, stem: str, step: int | None, roles: set[Role]
    ) -> None:
        await self._screenshot(page, f"{stem}.png", step, roles, full_page=False)
        try:
            html = await asyncio.wait_for(page.content(), CAPTURE_TIMEOUT_S)
        except Exception as exc:  # a capture never fails the run
            logger.warning("HTML snapshot {} failed: {}", stem, self.redactor.redact(str(exc)))
            return
        path = self._path(f"{stem}.html")
        path.write_bytes(self.redactor.redact_bytes(html.encode("utf-8")))
        self._captured.append(_Captured(path, "html", step, set(roles), "text/html; charset=utf-8"))

    async def _screenshot(
        self, page: Page, name: str, step: int | None, roles: set[Role], full_page: bool
    ) -> None:
        path = self._path(name)
        try:
            await page.screenshot(
                path=str(path),
                full_page=full_page,
                mask=self._masks(page),
                animations="disabled",
                timeout=CAPTURE_TIMEOUT_S * 1000,
            )
        except Exception as exc:
            logger.warning("screenshot {} failed: {}", name, self.redactor.redact(str(exc)))
            return
        self._captured.append(_Captured(path, "screenshot", step, set(roles), "image/png"))

    def _masks(self, page: Page) -> list[Locator]:
        """Password inputs, fields that received a secret, and elements showing a secret."""
        masks = [page.locator(s) for s in (PASSWORD_INPUTS, *self._masked_selectors)]
        masks += [page.get_by_text(secret) for secret in self.redactor.secrets]
        return masks

    def _write_json(
        self, name: str, data: Any, type: str, step: int | None, roles: set[Role]
    ) -> None:
        path = self._path(name)
        text = json.dumps(
            self.redactor.redact_data(data), indent=2, ensure_ascii=False, default=str
        )
        path.write_text(text, encoding="utf-8")
        self._captured.append(_Captured(path, type, step, roles, "application/json"))

    def _prune_ring(self) -> None:
        """Drop step captures that only served the ring buffer and have fallen out of it."""
        ring_steps = sorted({c.step for c in self._captured if Role.RING in c.roles and c.step})
        stale = (
            set(ring_steps[: -self.policy.ring_size]) if self.policy.ring_size else set(ring_steps)
        )
        for capture in list(self._captured):
            if capture.step in stale and capture.roles == {Role.RING}:
                capture.path.unlink(missing_ok=True)
                self._captured.remove(capture)
            elif capture.step in stale:
                capture.roles.discard(Role.RING)

    def _path(self, name: str) -> Path:
        path = self.staging_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path
