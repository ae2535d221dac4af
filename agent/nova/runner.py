"""One `act` / `act_with_schema` step through the Nova Act SDK, on the task's own page.

Each step is one Nova Act workflow run with one session and one act. The SDK's service calls
block, so it runs on an event loop of its own in a thread of its own (not the worker's pool:
an act can take minutes and must not starve heartbeats); its browser actions are carried out
on the executor's loop by `TaskPageActuator`.

Authentication, as the SDK offers it:
- `iam` (the default): the agent's own AWS identity (task role, instance role, profile) signs
  the requests to the Nova Act AWS service; no static key exists.
- `api_key`: a nova.amazon.com key read through a secret reference when an act starts; it is
  added to the process's secrets at once, so no log line can show it.

This module imports the SDK only when a step runs, so the agent works without the extra.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import importlib.util
import tempfile
import threading
import time
from collections.abc import Callable
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
    from agent.nova.actuator import TaskPageActuator

T = TypeVar("T")

NOT_INSTALLED = "the nova extra is not installed: pip install 'browser-agent[nova]'"
IAM_MODEL = "nova-act-latest"
API_KEY_MODEL = "nova-act-preview"  # the SDK's own choice for nova.amazon.com keys
DEFAULT_VIEWPORT = (1280, 720)


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
class _SessionEnd:
    result: Any
    error: BaseException | None
    traces: list[ActTraceFile]


class NovaActRunner:
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

    async def act(self, page: Page, request: ActRequest, recorder: SessionRecorder) -> ActOutcome:
        if self.missing:
            raise NovaActNotConfigured(step=request.step, reason=self.missing)
        from agent.nova.actuator import TaskPageActuator
        from agent.nova.failures import to_step_error

        route_sdk_logging()
        size = page.viewport_size
        actuator = TaskPageActuator(
            page.context,
            asyncio.get_running_loop(),
            viewport=(size["width"], size["height"]) if size else DEFAULT_VIEWPORT,
            ignore_https_errors=self.settings.ignore_https_errors,
        )
        logs_dir = Path(tempfile.mkdtemp(prefix="browser-agent-nova-act-"))
        logger.info(
            "step {}: Nova Act at work (at most {} actions, {} s)",
            request.step,
            request.max_steps,
            request.timeout_s,
        )
        started = time.monotonic()
        try:
            end = await _in_own_thread(lambda: self._session_in_thread(actuator, request, logs_dir))
        except asyncio.CancelledError:  # the executor's deadline: the SDK may still be at work
            await actuator.detach()
            raise
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

    def _session_in_thread(
        self, actuator: TaskPageActuator, request: ActRequest, logs_dir: Path
    ) -> _SessionEnd:
        try:
            result, error = asyncio.run(self._session(actuator, request, logs_dir)), None
        except Exception as exc:
            result, error = None, exc
        return _SessionEnd(result, error, collect_act_traces(logs_dir))

    async def _session(
        self, actuator: TaskPageActuator, request: ActRequest, logs_dir: Path
    ) -> Any:
        from nova_act.asyncio import NovaAct

        workflow = self._workflow()
        with workflow:  # one workflow run per step: CreateWorkflowRun now, its status at exit
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
            async with nova:
                if request.schema is None:
                    return await nova.act(
                        request.prompt, timeout=request.timeout_s, max_steps=request.max_steps
                    )
                return await nova.act_get(
                    request.prompt,
                    schema=request.schema,
                    timeout=request.timeout_s,
                    max_steps=request.max_steps,
                )

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

    def _keep_traces(
        self, traces: list[ActTraceFile], step: int, recorder: SessionRecorder
    ) -> None:
        for trace in traces:
            data = without_screenshots(trace.data) if recorder.redactor.secrets else trace.data
            data = process_secrets.redactor.redact_bytes(data)  # an API key, among others
            recorder.keep_session_file(
                f"nova-act/step-{step:03d}-{trace.name}",
                data,
                type="nova-act-trace",
                content_type=trace.content_type,
                step=step,
            )


def _in_own_thread(work: Callable[[], T]) -> asyncio.Future[T]:
    """`work` in a daemon thread of its own, with this task's context (log ids); a step the
    executor gave up on may still finish there, and never holds the process open."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()
    context = contextvars.copy_context()

    def settle(value: Any, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)

    def target() -> None:
        try:
            value, error = context.run(work), None
        except BaseException as exc:
            value, error = None, exc
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits any more
            loop.call_soon_threadsafe(settle, value, error)

    threading.Thread(target=target, name="nova-act", daemon=True).start()
    return future
