"""`act` / `act_with_schema` steps through the Nova Act SDK, on the task's own page.

A script run's act steps share one Nova Act workflow run and one session (`NovaActSession`,
one per run, from `NovaActRunner.session()`): opened at the first act step, closed by the
executor when the run ends, however it ends, with the run's status. The SDK's service calls
block, so it runs on an event loop of its own in a thread of its own, one per session (not the
worker's pool: an act can take minutes and must not starve heartbeats); its browser actions
are carried out on the executor's loop by `TaskPageActuator`, which holds the page only while
an act runs.

Authentication, as the SDK offers it:
- `iam` (the default): the agent's own AWS identity (task role, instance role, profile) signs
  the requests to the Nova Act AWS service; no static key exists.
- `api_key`: a nova.amazon.com key read through a secret reference when the session opens; it
  is added to the process's secrets at once, so no log line can show it.

This module imports the SDK only when a step runs, so the agent works without the extra.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import importlib.util
import queue
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from loguru import logger
from playwright.async_api import Page

from agent.aws import botocore_session
from agent.config import NovaActSettings
from agent.errors import BrowserAgentError, NovaActError, NovaActNotConfigured
from agent.nova.sdk_logs import route_sdk_logging
from agent.nova.traces import ActTraceFile, collect_act_traces, without_screenshots
from agent.recording.recorder import SessionRecorder
from agent.redaction import process_secrets

if TYPE_CHECKING:
    from agent.nova.actuator import Lease, TaskPageActuator

T = TypeVar("T")

NOT_INSTALLED = "the nova extra is not installed: pip install 'browser-agent[nova]'"
IAM_MODEL = "nova-act-latest"
API_KEY_MODEL = "nova-act-preview"  # the SDK's own choice for nova.amazon.com keys
DEFAULT_VIEWPORT = (1280, 720)
# How long the end of a run waits for the session to close (UpdateWorkflowRun).
CLOSE_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class ActRequest:
    step: int
    prompt: str
    timeout_s: int
    max_steps: int
    schema: dict[str, Any] | None = None


@dataclass(frozen=True)
class ActOutcome:
    act_id: str
    steps: int
    answer: Any = None  # act_with_schema: the answer parsed as JSON


@dataclass
class _ActEnd:
    result: Any
    error: BaseException | None
    traces: list[ActTraceFile]


class NovaActRunner:
    """The Nova Act settings and credentials of the agent; `session()` for each script run."""

    def __init__(
        self,
        settings: NovaActSettings,
        *,
        aws_profile: str | None = None,
        api_key: Callable[[], str] | None = None,
    ) -> None:
        self.settings = settings
        self.aws_profile = aws_profile
        self._api_key = api_key
        self.missing = None if importlib.util.find_spec("nova_act") else NOT_INSTALLED

    def session(self) -> NovaActSession:
        """The Nova Act side of one script run; nothing happens until its first act."""
        return NovaActSession(self)

    def _workflow(self) -> Any:
        from nova_act import Workflow

        settings = self.settings
        if settings.auth == "api_key":
            if self._api_key is None:
                raise NovaActNotConfigured(reason="nova_act.api_key_ref is not set")
            try:
                key = self._api_key()
            except BrowserAgentError as exc:  # the message names the reference, never a value
                raise NovaActError(
                    f"the Nova Act API key could not be read: {exc.message}", kind="Auth"
                ) from None
            process_secrets.add([key])
            return Workflow(model_id=settings.model_id or API_KEY_MODEL, nova_act_api_key=key)
        endpoints = {"nova-act": settings.endpoint_url} if settings.endpoint_url else None
        session = botocore_session(profile=self.aws_profile, endpoints=endpoints)
        # The SDK types botocore_session as a boto3 Session; boto3 takes a botocore one.
        boto_session_kwargs: Any = {"botocore_session": session, "region_name": settings.region}
        return Workflow(
            model_id=settings.model_id or IAM_MODEL,
            boto_session_kwargs=boto_session_kwargs,
            workflow_definition_name=settings.workflow_definition_name,
        )


class NovaActSession:
    """One script run's Nova Act workflow run and session, shared by its act steps.

    The first `act` starts a thread of its own for the SDK, and in it the workflow run
    (CreateWorkflowRun) and the session (CreateSession); each act is then one CreateAct in that
    session. `close` (the executor calls it when the run ends, however it ends) stops the
    session and sets the workflow run's final status, then the thread ends. A run without an
    act step makes no Nova Act call at all. If the session cannot be started, its workflow run
    is closed as FAILED at once, and a later act step of the run tries again.
    """

    def __init__(self, runner: NovaActRunner) -> None:
        self.runner = runner
        self.settings = runner.settings
        self._sdk: _SdkThread | None = None
        self._actuator: TaskPageActuator | None = None
        self._logs_dir: Path | None = None
        # Only touched in the SDK's thread:
        self._workflow: Any = None
        self._nova: Any = None

    async def act(self, page: Page, request: ActRequest, recorder: SessionRecorder) -> ActOutcome:
        if self.runner.missing:
            raise NovaActNotConfigured(step=request.step, reason=self.runner.missing)
        from agent.nova.actuator import Lease, TaskPageActuator
        from agent.nova.failures import to_step_error

        route_sdk_logging()
        if self._sdk is None or self._actuator is None or self._logs_dir is None:
            size = page.viewport_size
            self._actuator = TaskPageActuator(
                page.context,
                asyncio.get_running_loop(),
                viewport=(size["width"], size["height"]) if size else DEFAULT_VIEWPORT,
                ignore_https_errors=self.settings.ignore_https_errors,
            )
            self._logs_dir = Path(tempfile.mkdtemp(prefix="browser-agent-nova-act-"))
            self._sdk = _SdkThread()
        actuator, logs_dir, lease = self._actuator, self._logs_dir, Lease()
        logger.info(
            "step {}: Nova Act at work (at most {} actions, {} s)",
            request.step,
            request.max_steps,
            request.timeout_s,
        )
        started = time.monotonic()
        try:
            end = await self._sdk.submit(lambda: self._act(actuator, lease, request, logs_dir))
        finally:  # the act ended, or the executor's deadline passed (the SDK may still be at work)
            await actuator.take_back(lease)
        self._keep_traces(end.traces, request.step, recorder)
        if isinstance(end.error, BrowserAgentError):
            end.error.step = request.step
            raise end.error
        if end.error is not None:
            raise to_step_error(end.error, request.step) from None
        metadata = end.result.metadata
        outcome = ActOutcome(
            act_id=str(metadata.act_id),
            steps=int(metadata.num_steps_executed),
            answer=getattr(end.result, "parsed_response", None),
        )
        logger.info(
            "step {}: Nova Act act {} done in {} actions, {:.1f} s",
            request.step,
            outcome.act_id,
            outcome.steps,
            time.monotonic() - started,
        )
        return outcome

    async def close(self, *, succeeded: bool, recorder: SessionRecorder) -> None:
        """Called by the executor when the run ends, before its context closes (the page was
        taken back when the last act ended). Waits for the workflow run's final status, at
        most `CLOSE_TIMEOUT_S`, unless an act the executor gave up on is still at work: then
        the session is closed in the background once that act ends."""
        sdk, self._sdk = self._sdk, None
        if sdk is None:
            return
        busy = sdk.pending > 0
        closed = sdk.submit(lambda: self._close(succeeded))
        sdk.finish()
        if busy:
            logger.info("Nova Act session: closed once the act still at work ends")
            return
        try:
            traces = await asyncio.wait_for(asyncio.shield(closed), CLOSE_TIMEOUT_S)
        except TimeoutError:
            logger.warning("Nova Act session: not closed after {} s; closing on", CLOSE_TIMEOUT_S)
            return
        self._keep_traces(traces, None, recorder)

    # -- in the SDK's thread -------------------------------------------------------------------

    async def _act(
        self, actuator: TaskPageActuator, lease: Lease, request: ActRequest, logs_dir: Path
    ) -> _ActEnd:
        try:
            await actuator.lend(lease)
            nova = await self._started(actuator, logs_dir)
            if request.schema is None:
                result = await nova.act(
                    request.prompt, timeout=request.timeout_s, max_steps=request.max_steps
                )
            else:
                result = await nova.act_get(
                    request.prompt,
                    schema=request.schema,
                    timeout=request.timeout_s,
                    max_steps=request.max_steps,
                )
            error = None
        except Exception as exc:
            result, error = None, exc
        return _ActEnd(result, error, collect_act_traces(logs_dir, keep_folder=True))

    async def _started(self, actuator: TaskPageActuator, logs_dir: Path) -> Any:
        if self._nova is not None:
            return self._nova
        from nova_act.asyncio import NovaAct

        workflow = self.runner._workflow()
        workflow.__enter__()  # CreateWorkflowRun; its final status is set in _close
        try:
            nova = NovaAct(
                # Only validated by the SDK (the actuator acts on the page the script is on).
                starting_page="about:blank",
                actuator=actuator,
                workflow=workflow,
                tty=False,
                headless=True,
                ignore_https_errors=self.settings.ignore_https_errors,
                ignore_screen_dims_check=True,
                logs_directory=str(logs_dir),
            )
            await nova.start()  # CreateSession
        except BaseException:
            _end_workflow_run(workflow, succeeded=False)
            raise
        self._workflow, self._nova = workflow, nova
        return nova

    async def _close(self, succeeded: bool) -> list[ActTraceFile]:
        nova, workflow, self._nova, self._workflow = self._nova, self._workflow, None, None
        try:
            if nova is not None:
                await nova.stop()  # the session summary is written
        except Exception as exc:
            logger.warning("Nova Act session: stopping failed: {}", _one_line(exc))
        if workflow is not None:
            _end_workflow_run(workflow, succeeded=succeeded)
        try:
            return collect_act_traces(self._logs_dir) if self._logs_dir else []
        except OSError as exc:
            logger.warning("Nova Act session: reading its files failed: {}", _one_line(exc))
            return []

    def _keep_traces(
        self, traces: list[ActTraceFile], step: int | None, recorder: SessionRecorder
    ) -> None:
        for trace in traces:
            data = without_screenshots(trace.data) if recorder.redactor.secrets else trace.data
            data = process_secrets.redactor.redact_bytes(data)  # an API key, among others
            name = f"step-{step:03d}-{trace.name}" if step is not None else trace.name
            recorder.keep_session_file(
                f"nova-act/{name}",
                data,
                type="nova-act-trace",
                content_type=trace.content_type,
                step=step,
            )


def _end_workflow_run(workflow: Any, *, succeeded: bool) -> None:
    """UpdateWorkflowRun: SUCCEEDED or FAILED, as the SDK's Workflow sets it on leaving."""
    try:
        workflow.__exit__(None if succeeded else _RunFailed, None, None)
    except Exception as exc:
        logger.warning("Nova Act workflow run: setting its status failed: {}", _one_line(exc))


class _RunFailed(Exception):
    """What the workflow run is told when the script run did not succeed."""


def _one_line(exc: BaseException) -> str:
    text = process_secrets.redactor.redact(str(exc))
    return f"{type(exc).__name__}: {' '.join(text.split())[:500]}"


class _SdkThread:
    """A daemon thread with an event loop of its own, running the SDK's coroutines one after
    another, each in the context (log ids) of the task that submitted it. An act the executor
    gave up on finishes there before the next job starts. `finish` ends the thread after the
    jobs already submitted; it never holds the process open."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._submitted = 0  # counted on the caller's loop
        self._done = 0  # counted in the thread
        threading.Thread(target=self._serve, name="nova-act", daemon=True).start()

    def submit(self, work: Callable[[], Coroutine[Any, Any, T]]) -> asyncio.Future[T]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._submitted += 1
        self._jobs.put(_Job(work, loop, future, contextvars.copy_context()))
        return future

    @property
    def pending(self) -> int:
        """Jobs submitted and not yet done."""
        return self._submitted - self._done

    def finish(self) -> None:
        self._jobs.put(None)

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            while (job := self._jobs.get()) is not None:
                try:
                    value = job.context.run(lambda: loop.run_until_complete(job.work()))
                    error: BaseException | None = None
                except BaseException as exc:
                    value, error = None, exc
                self._done += 1
                with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits
                    job.loop.call_soon_threadsafe(_settle, job.future, value, error)
        finally:
            loop.close()


@dataclass
class _Job:
    work: Callable[[], Coroutine[Any, Any, Any]]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    context: contextvars.Context


def _settle(future: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    if future.done():  # the executor gave up on it
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)
