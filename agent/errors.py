"""Every error the agent raises, in one hierarchy.

Each class carries the stable Step Functions error code it is reported with, so the
mapping from failure to code lives here and nowhere else.
"""

from __future__ import annotations


class BrowserAgentError(Exception):
    """Base of every error the agent reports; `code` is the Step Functions error code."""

    code = "BrowserAgent.Error"

    def __init__(self, message: str, *, step: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.step = step

    def to_dict(self) -> dict[str, object]:
        data: dict[str, object] = {"code": self.code, "message": self.message}
        if self.step is not None:
            data["step"] = self.step
        return data


class InvalidInput(BrowserAgentError):
    """The script, task input or variables are not acceptable."""

    code = "BrowserAgent.InvalidInput"


class ScriptValidationError(InvalidInput):
    """A script failed validation; `problems` holds one line per offending field path."""

    def __init__(self, problems: list[str], *, source: str | None = None) -> None:
        self.problems = problems
        self.source = source
        where = f"{source}: " if source else ""
        if len(problems) == 1:
            message = f"{where}invalid script: {problems[0]}"
        else:
            listed = "\n".join(f"  - {p}" for p in problems)
            message = f"{where}invalid script ({len(problems)} problems):\n{listed}"
        super().__init__(message)


class ConfigurationError(BrowserAgentError):
    """A setting has an invalid value; the message names the key and where it came from."""

    code = "BrowserAgent.Configuration"


class StepFailed(BrowserAgentError):
    """A step ran and did not do what it said (element missing, assertion false, …)."""

    code = "BrowserAgent.StepFailed"


class StepTimeout(StepFailed):
    """A step did not finish within its timeout."""

    code = "BrowserAgent.Timeout"


class BrowserNotFound(BrowserAgentError):
    """No Chromium could be found; the message lists every place that was tried."""

    code = "BrowserAgent.BrowserNotFound"


class BrowserCrashed(BrowserAgentError):
    """The browser process died under a running task."""

    code = "BrowserAgent.BrowserCrashed"


class WorkerShutdown(BrowserAgentError):
    """The worker is shutting down and did not finish the task in its drain time."""

    code = "BrowserAgent.WorkerShutdown"


class NovaActError(BrowserAgentError):
    """A Nova Act step failed; `kind` becomes the last part of the code.

    The kinds, and which Nova Act SDK errors become which, are listed in docs/nova-act.md;
    the table itself is `agent.nova.failures`.
    """

    def __init__(self, message: str, *, kind: str = "Error", step: int | None = None) -> None:
        super().__init__(message, step=step)
        self.code = f"BrowserAgent.NovaAct.{kind}"


class NovaActNotConfigured(NovaActError):
    """An `act` step was asked for but this agent has no Nova Act set up."""

    def __init__(self, *, step: int | None = None, reason: str | None = None) -> None:
        message = (
            "Nova Act is not configured: this agent cannot run 'act' or 'act_with_schema' steps"
        )
        if reason:
            message = f"{message} ({reason})"
        super().__init__(message, kind="NotConfigured", step=step)


class OutputTooLarge(BrowserAgentError):
    """The result does not fit in Step Functions' 256 KiB task output."""

    code = "BrowserAgent.OutputTooLarge"


class AwsAccessError(BrowserAgentError):
    """AWS refused or could not be reached; the message says what to do about it."""

    code = "BrowserAgent.AwsAccess"


class UploadError(BrowserAgentError):
    """An object could not be uploaded; `reason` is S3's error code or the network failure.
    The session stays in the spool: this never fails a task."""

    code = "BrowserAgent.Upload"

    def __init__(self, key: str, reason: str, detail: str) -> None:
        super().__init__(f"upload of s3 key {key} failed: {reason}: {detail}")
        self.key = key
        self.reason = reason


class SessionNotFound(BrowserAgentError, LookupError):
    """`browser-agent recordings …` was given a session id the catalog does not hold."""

    code = "BrowserAgent.SessionNotFound"
