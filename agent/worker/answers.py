"""What goes back to Step Functions: the success output, or an error code and a JSON cause.

Limits of the API: `error` at most 256 characters, `cause` at most 32,768, output at most
256 KiB. A cause that is too long has its message cut, so it stays valid JSON.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from loguru import logger

from agent.aws import error_code
from agent.errors import BrowserAgentError, OutputTooLarge
from agent.redaction import process_secrets
from agent.result import RunResult

MAX_ERROR_CHARS = 256
MAX_CAUSE_CHARS = 32_768
MAX_OUTPUT_BYTES = 256 * 1024
_CUT_MARK = "… [cut]"


@dataclass(frozen=True)
class TaskFailure:
    """A failure as SendTaskFailure takes it."""

    error: str
    cause: str


def failure(
    code: str,
    message: str,
    *,
    step: int | None = None,
    result: RunResult | None = None,
) -> TaskFailure:
    details: dict[str, Any] = {"error": code, "message": message}
    if step is not None:
        details["step"] = step
        if result is not None and 0 < step <= len(result.steps):
            details["step_action"] = result.steps[step - 1].action
            if result.steps[step - 1].description:
                details["step_description"] = result.steps[step - 1].description
    if result is not None:
        details.update(
            script=result.script,
            version=result.version,
            session_id=result.session_id,
            manifest_uri=result.recording.manifest_uri,
        )
    return TaskFailure(code[:MAX_ERROR_CHARS], _cause_json(details))


def failure_from_error(exc: BrowserAgentError) -> TaskFailure:
    return failure(exc.code, exc.message, step=exc.step)


def failure_from_result(result: RunResult, code: str | None = None) -> TaskFailure:
    """The failure of a finished run; `code` replaces the run's own (e.g. WorkerShutdown)."""
    error = result.error
    message = error.message if error else "the script failed"
    if code is not None and error is not None and code != error.code:
        message = f"{message} (the run ended with {error.code})"
    return failure(
        code or (error.code if error else "BrowserAgent.StepFailed"),
        message,
        step=error.step if error else None,
        result=result,
    )


def success_output(result: RunResult, envelope: dict[str, Any] | None) -> str:
    """The result JSON, or for a tool envelope the envelope with the result inside."""
    payload: dict[str, Any] = result.to_json_dict()
    if envelope is not None:
        payload = {**envelope, "tool_input": {"script_output": payload}, "approved": True}
    output = json.dumps(payload, ensure_ascii=False)
    size = len(output.encode())
    if size > MAX_OUTPUT_BYTES:
        raise OutputTooLarge(
            f"the result is {size:,} bytes, above Step Functions' {MAX_OUTPUT_BYTES:,}-byte "
            "output limit; extract less, or read the outputs from the recording"
        )
    return output


def _cause_json(details: dict[str, Any]) -> str:
    text = json.dumps(details, ensure_ascii=False, default=str)
    if len(text) <= MAX_CAUSE_CHARS:
        return text
    message = str(details["message"])
    # Each character of the message becomes at most 6 in JSON (\uXXXX): cut with that margin.
    overflow = len(text) - MAX_CAUSE_CHARS
    keep = max(0, len(message) - overflow - len(_CUT_MARK) * 6)
    while True:
        details["message"] = message[:keep] + _CUT_MARK
        text = json.dumps(details, ensure_ascii=False, default=str)
        if len(text) <= MAX_CAUSE_CHARS or keep == 0:
            return text[:MAX_CAUSE_CHARS] if len(text) > MAX_CAUSE_CHARS else text
        keep = max(0, keep - (len(text) - MAX_CAUSE_CHARS) - 16)


# Answers to a token Step Functions no longer holds: the task timed out or was answered.
GONE_TOKEN_ERRORS = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})


class TaskAnswers:
    """Sends the one answer a task token gets; never raises (a lost answer is logged)."""

    def __init__(self, states: Any) -> None:
        self.states = states

    async def succeed(self, token: str, output: str) -> bool:
        return await self._send("SendTaskSuccess", taskToken=token, output=output)

    async def fail(self, token: str, answer: TaskFailure) -> bool:
        cause = process_secrets.redactor.redact(answer.cause)
        return await self._send("SendTaskFailure", taskToken=token, error=answer.error, cause=cause)

    async def _send(self, operation: str, **params: str) -> bool:
        method = self.states.send_task_success
        if operation == "SendTaskFailure":
            method = self.states.send_task_failure
        try:
            await asyncio.to_thread(method, **params)
        except ClientError as exc:
            code = error_code(exc)
            if code in GONE_TOKEN_ERRORS:
                logger.warning("{} not accepted: {} (the task already ended)", operation, code)
            else:
                logger.error("{} failed: {}", operation, exc)
            return False
        except BotoCoreError as exc:
            logger.error("{} failed: {}", operation, exc)
            return False
        if "error" in params:
            logger.info("answered with failure {}", params["error"])
        else:
            logger.info("answered with success")
        return True
