"""One task, from its token to its one answer: parse the input, run it with heartbeats,
answer. Nothing a task does or sends can crash the worker."""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass
from typing import Any

from loguru import logger

from agent import runtime
from agent.browser import BrowserDriver
from agent.config import AgentSettings
from agent.errors import BrowserAgentError, WorkerShutdown
from agent.result import RunResult
from agent.script import bind
from agent.script.variables import SecretResolver
from agent.worker.answers import (
    TaskAnswers,
    TaskFailure,
    failure,
    failure_from_error,
    failure_from_result,
    success_output,
)
from agent.worker.heartbeat import send_heartbeats
from agent.worker.metrics import TaskMetrics
from agent.worker.task_browser import TaskBrowser
from agent.worker.task_input import parse_task_input
from agent.worker.templates import TemplateSource

# After its contexts are closed, a task gets this long to finish its recording before it is
# cancelled outright.
STOP_GRACE_S = 10.0


@dataclass(frozen=True)
class ActivityTask:
    token: str
    input: str

    @property
    def task_id(self) -> str:
        """A short stable id for logs (the token itself is long and opaque)."""
        return "t-" + hashlib.sha256(self.token.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class TaskServices:
    """What every task needs from the worker."""

    settings: AgentSettings
    driver: BrowserDriver
    states: Any
    answers: TaskAnswers
    templates: TemplateSource | None
    resolve_secret: SecretResolver
    metrics: TaskMetrics


class TaskRun:
    def __init__(self, task: ActivityTask, services: TaskServices) -> None:
        self.task = task
        self.services = services
        self._shutdown = asyncio.Event()
        self._started = time.monotonic()

    def stop_for_shutdown(self) -> None:
        """The drain time is over: stop the browser work and fail with WorkerShutdown."""
        self._shutdown.set()

    async def run(self) -> None:
        with logger.contextualize(task_id=self.task.task_id):
            try:
                await self._run()
            except Exception as exc:  # a bug must cost one task, not the worker
                logger.exception("task failed unexpectedly")
                await self._answer_failure(
                    failure("BrowserAgent.Error", f"internal error: {type(exc).__name__}: {exc}"),
                    level="NONE",
                )

    async def _run(self) -> None:
        settings = self.services.settings
        logger.info("task received ({} characters of input)", len(self.task.input))
        try:
            request = parse_task_input(self.task.input, self.services.templates)
            # In a thread: a secretsmanager: reference is a blocking AWS call.
            bound = await asyncio.to_thread(
                bind, request.script, request.variables, self.services.resolve_secret
            )
            level = settings.level_for(
                script_level=request.script.session.recording_level,
                task_level=request.recording_level,
            )
        except BrowserAgentError as exc:
            logger.warning("invalid task input: {}", exc.message)
            await self._answer_failure(failure_from_error(exc), level="NONE")
            return
        browser = TaskBrowser(self.services.driver)
        executor = runtime.script_executor(settings, browser)
        work = asyncio.create_task(executor.run(bound, level, task_id=self.task.task_id))
        token_lost = asyncio.Event()
        result, stopped_by = await self._wait_with_heartbeats(work, browser, token_lost)
        if stopped_by == "token lost":
            logger.warning("Step Functions no longer holds this task (timed out); no answer sent")
            return
        if result is None:
            await self._answer_failure(
                failure(WorkerShutdown.code, _shutdown_message(settings)), level=level.level.name
            )
        elif stopped_by == "shutdown":
            answer = failure(
                WorkerShutdown.code,
                f"{_shutdown_message(settings)}; the run was stopped at: "
                f"{result.error.message if result.error else 'its end'}",
                step=result.error.step if result.error else None,
                result=result,
            )
            await self._answer_failure(answer, level=level.level.name, result=result)
        else:
            await self._answer_result(result, request.envelope)

    async def _wait_with_heartbeats(
        self, work: asyncio.Task[RunResult], browser: TaskBrowser, token_lost: asyncio.Event
    ) -> tuple[RunResult | None, str | None]:
        interval = self.services.settings.worker.heartbeat_seconds
        heartbeats = (
            asyncio.create_task(
                send_heartbeats(self.services.states, self.task.token, interval, token_lost)
            )
            if interval > 0
            else None
        )
        lost = asyncio.create_task(token_lost.wait())
        shutdown = asyncio.create_task(self._shutdown.wait())
        try:
            await asyncio.wait({work, lost, shutdown}, return_when=asyncio.FIRST_COMPLETED)
            stopped_by = None
            if not work.done():
                stopped_by = "token lost" if token_lost.is_set() else "shutdown"
                logger.warning("stopping the task's browser work ({})", stopped_by)
                await browser.close_contexts()
                await asyncio.wait({work}, timeout=STOP_GRACE_S)
                if not work.done():
                    work.cancel()
                    await asyncio.gather(work, return_exceptions=True)
                    return None, stopped_by
            return work.result(), stopped_by
        finally:
            for helper in (heartbeats, lost, shutdown):
                if helper is not None:
                    helper.cancel()

    async def _answer_result(self, result: RunResult, envelope: dict[str, Any] | None) -> None:
        if not result.success:
            await self._answer_failure(
                failure_from_result(result), level=result.recording.level, result=result
            )
            return
        try:
            output = success_output(result, envelope)
        except BrowserAgentError as exc:
            await self._answer_failure(
                failure(exc.code, exc.message, result=result),
                level=result.recording.level,
                result=result,
            )
            return
        await self.services.answers.succeed(self.task.token, output)
        self._record("succeeded", None, result.recording.level, result)

    async def _answer_failure(
        self, answer: TaskFailure, *, level: str, result: RunResult | None = None
    ) -> None:
        await self.services.answers.fail(self.task.token, answer)
        self._record("failed", answer.error, level, result)

    def _record(self, outcome: str, code: str | None, level: str, result: RunResult | None) -> None:
        self.services.metrics.task_finished(
            outcome=outcome,
            error_code=code,
            level=level,
            duration_ms=(time.monotonic() - self._started) * 1000,
            recording_bytes=result.recording.bytes if result else 0,
            task_id=self.task.task_id,
            session_id=result.session_id if result else None,
        )


def _shutdown_message(settings: AgentSettings) -> str:
    return (
        f"the worker is shutting down and the task did not finish within the "
        f"{settings.worker.drain_seconds:g} s drain time"
    )
