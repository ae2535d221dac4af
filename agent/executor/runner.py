"""Running a bound script in one browser context, step by step, into a result and a recording."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loguru import logger
from playwright.async_api import BrowserContext, Page
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout

from agent.browser import BrowserDriver, ContextOptions
from agent.browser.ffmpeg import ensure_video_encoder
from agent.errors import BrowserAgentError, BrowserCrashed, StepFailed, StepTimeout
from agent.executor.actions import ACTIONS, StepContext
from agent.levels import LevelChoice
from agent.nova import NovaActRunner, NovaActSession
from agent.recording.policy import RecordingPolicy
from agent.recording.recorder import SessionInfo, SessionRecorder
from agent.recording.session_media import SessionMedia
from agent.redaction import SecretRedactor, process_secrets
from agent.result import RunError, RunResult, StepResult
from agent.script import NOVA_ACT_ACTIONS, BoundScript
from agent.script import model as m
from agent.storage import ArtifactStore, new_session_id, sanitize_id, session_prefix

# A step gets this much longer than its own timeout before the executor gives up on it.
STEP_GRACE_S = 5.0
# Nova Act looks at its own deadline between model calls, and one call may take a minute.
NOVA_ACT_GRACE_S = 90.0
STAGING_DIR = ".staging"
_CRASH_MARKERS = ("Target crashed", "has been closed", "Browser closed", "browser has disconnected")


@dataclass(frozen=True)
class ExecutorSettings:
    spool_dir: Path
    env: str = "dev"
    agent_name: str = "local"
    step_timeout_ms: int = 10_000
    navigation_timeout_ms: int = 30_000
    ring_size: int = 3
    act_timeout_ms: int = 300_000  # act / act_with_schema steps without timeout_ms


class ScriptExecutor:
    def __init__(
        self,
        driver: BrowserDriver,
        store: ArtifactStore,
        settings: ExecutorSettings,
        nova: NovaActRunner | None = None,
    ):
        self.driver = driver
        self.store = store
        self.settings = settings
        self.nova = nova  # None: act steps fail as BrowserAgent.NovaAct.NotConfigured

    async def run(
        self,
        bound: BoundScript,
        level: LevelChoice,
        *,
        task_id: str | None = None,
        session_id: str | None = None,
    ) -> RunResult:
        script = bound.script
        redactor = SecretRedactor(bound.secrets)
        process_secrets.add(bound.secrets)
        started = datetime.now(UTC)
        session_id = sanitize_id(session_id) if session_id else new_session_id(started)
        recorder = SessionRecorder(
            policy=RecordingPolicy(level.level, self.settings.ring_size),
            info=SessionInfo(
                session_id=session_id,
                script=script.name,
                script_version=script.version,
                agent_name=self.settings.agent_name,
                env=self.settings.env,
                level_source=level.source,
                started_at=started,
                task_id=task_id,
            ),
            staging_dir=self.settings.spool_dir / STAGING_DIR / session_id,
            redactor=redactor,
        )
        with logger.contextualize(session_id=session_id, task_id=task_id):
            logger.info(
                "running {} {} at level {} (from {})",
                script.name,
                script.version,
                level.level.name,
                level.source,
            )
            steps, outputs, error = await self._run_in_context(bound, recorder)
            success = error is None
            steps = [StepResult.model_validate(redactor.redact_data(s.model_dump())) for s in steps]
            error = (
                RunError.model_validate(redactor.redact_data(error.model_dump())) if error else None
            )
            recording = await asyncio.to_thread(
                recorder.finish,
                success=success,
                steps=steps,
                error=error,
                store=self.store,
                prefix=session_prefix(self.settings.env, started, session_id),
                ended_at=datetime.now(UTC),
            )
            logger.info(
                "{} {}: {} artifacts, {} bytes ({})",
                script.name,
                "succeeded" if success else "failed",
                recording.artifacts,
                recording.bytes,
                recording.upload_status,
            )
        return RunResult(
            success=success,
            script=script.name,
            version=script.version,
            session_id=session_id,
            steps=steps,
            outputs=redactor.redact_data(outputs),
            error=error,
            recording=recording,
        )

    async def _run_in_context(
        self, bound: BoundScript, recorder: SessionRecorder
    ) -> tuple[list[StepResult], dict[str, Any], RunError | None]:
        script = bound.script
        steps = [
            StepResult(n=n, action=s.action, description=s.description, status="skipped")
            for n, s in enumerate(script.steps, start=1)
        ]
        outputs: dict[str, Any] = {}
        error: RunError | None = None
        context: BrowserContext | None = None
        page: Page | None = None
        # One Nova Act workflow run and session for the run's act steps, opened by the first.
        nova = self.nova.session() if self.nova is not None else None
        ended = False  # not cancelled (the task's timeout, a shutdown) on the way
        media = (
            SessionMedia(recorder, recorder.redactor, video=ensure_video_encoder())
            if recorder.policy.records_session_media
            else None
        )
        try:
            viewport = script.session.viewport
            context = await self.driver.new_context(
                ContextOptions(
                    viewport_width=viewport.width,
                    viewport_height=viewport.height,
                    video_dir=media.video_dir if media else None,
                    har_path=media.har_path if media else None,
                )
            )
            context.set_default_navigation_timeout(self.settings.navigation_timeout_ms)
            page = await context.new_page()
            if media is not None:
                await media.attach(context, page)
            if script.starting_page:
                await page.goto(script.starting_page, wait_until="load")
            for index, step in enumerate(script.steps):
                result = steps[index]
                failure = await self._run_step(page, step, result, bound, recorder, nova)
                if failure is not None:
                    error = error or failure
                    await _stop_loading(page)
                    await recorder.failure(page, result.n, failure)
                    if script.abort_on_error:
                        break
                elif isinstance(step, m.Extract | m.ActWithSchema) and step.name:
                    outputs[step.name] = result.output
            if error is None:
                await recorder.final(page)
            ended = True
        except BrowserAgentError as exc:
            error = RunError(code=exc.code, message=exc.message, step=exc.step)
        except PlaywrightError as exc:
            error = self._describe_playwright_error(exc, None, "opening the session")
            await recorder.failure(page, None, error)
        finally:
            try:  # before the context closes; no call at all if no act step ran
                if nova is not None:
                    await nova.close(succeeded=ended and error is None, recorder=recorder)
            finally:
                if context is not None:
                    await _close_quietly(context, media)
        return steps, outputs, error

    async def _run_step(
        self,
        page: Page,
        step: m.Step,
        result: StepResult,
        bound: BoundScript,
        recorder: SessionRecorder,
        nova: NovaActSession | None,
    ) -> RunError | None:
        nova_act = step.action in NOVA_ACT_ACTIONS
        default_ms = self.settings.act_timeout_ms if nova_act else self.settings.step_timeout_ms
        timeout_ms = step.timeout_ms or default_ms
        grace_s = NOVA_ACT_GRACE_S if nova_act else STEP_GRACE_S
        ctx = StepContext(
            page=page, n=result.n, timeout_ms=timeout_ms, recorder=recorder, nova=nova
        )
        if isinstance(step, m.Fill) and any(s in step.value for s in bound.secrets):
            await recorder.hide_secret_field(page, step.selector)
        navigations = _NavigationCounter(page)
        started = time.monotonic()
        failure: RunError | None = None
        try:
            action = ACTIONS[type(step)]
            result.output = await asyncio.wait_for(action(step, ctx), timeout_ms / 1000 + grace_s)
            result.status = "ok"
        except BrowserAgentError as exc:
            message = f"step {result.n} ({_label(step)}): {exc.message}"
            failure = RunError(code=exc.code, message=message, step=result.n)
        except (TimeoutError, PlaywrightError) as exc:
            failure = self._describe_playwright_error(exc, result.n, _label(step), timeout_ms)
        finally:
            navigations.stop()
            result.duration_ms = int((time.monotonic() - started) * 1000)
        if failure is not None:
            result.status, result.error = "failed", failure.message
            logger.warning("step {} ({}) failed: {}", result.n, step.action, failure.message)
            return failure
        if navigations.count:
            await _settle(page, timeout_ms)
        await recorder.after_step(page, result.n, step.action, navigated=navigations.count > 0)
        return None

    def _describe_playwright_error(
        self, exc: BaseException, n: int | None, what: str, timeout_ms: int | None = None
    ) -> RunError:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        where = f"step {n} ({what})" if n is not None else what
        if isinstance(exc, PlaywrightTimeout | TimeoutError):
            limit = f" after {timeout_ms} ms" if timeout_ms else ""
            err: BrowserAgentError = StepTimeout(f"{where} timed out{limit}: {text}", step=n)
        elif not self.driver.is_connected() or any(m in text for m in _CRASH_MARKERS):
            err = BrowserCrashed(f"{where}: the browser crashed or closed: {text}", step=n)
        else:
            err = StepFailed(f"{where} failed: {text}", step=n)
        return RunError(code=err.code, message=err.message, step=n)


class _NavigationCounter:
    """Counts main-frame navigations while a step runs (a navigation makes a step 'key')."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.count = 0
        page.on("framenavigated", self._on_navigated)

    def _on_navigated(self, frame: Any) -> None:
        if frame == self.page.main_frame:
            self.count += 1

    def stop(self) -> None:
        self.page.remove_listener("framenavigated", self._on_navigated)


async def _stop_loading(page: Page) -> None:
    """Stop a navigation still in flight (a timed-out goto), so the failure capture is instant."""
    try:
        cdp = await page.context.new_cdp_session(page)
        await cdp.send("Page.stopLoading")
        await cdp.detach()
    except PlaywrightError as exc:
        logger.debug("could not stop the page loading: {}", exc)


async def _settle(page: Page, timeout_ms: int) -> None:
    try:
        await page.wait_for_load_state("load", timeout=timeout_ms)
    except PlaywrightError as exc:
        logger.debug("page did not reach 'load' after a navigation: {}", exc)


async def _close_quietly(context: BrowserContext, media: SessionMedia | None) -> None:
    try:
        if media is not None:
            await media.finish(context)
        else:
            await context.close()
    except PlaywrightError as exc:
        logger.warning("closing the browser context failed: {}", exc)


def _label(step: m.Step) -> str:
    target = getattr(step, "selector", None) or getattr(step, "url", None)
    target = target or getattr(step, "text", None) or getattr(step, "name", None)
    return f"{step.action} {target!r}" if target else step.action
