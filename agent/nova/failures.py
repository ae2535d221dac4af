"""Which Nova Act SDK error becomes which `BrowserAgent.NovaAct.<kind>` code.

The first class in `KINDS` that the error is an instance of wins, so subclasses come before
their bases. Errors the SDK wraps (`StartFailed`, `StopFailed`, a plain `ActError` around an
exception it did not expect) are unwrapped first. docs/nova-act.md lists the same table.

Imports the SDK: import this module only when Nova Act is installed and enabled.
"""

from __future__ import annotations

from nova_act.types import act_errors as sdk
from nova_act.types.errors import (
    AuthError,
    IAMAuthError,
    InterpreterError,
    StartFailed,
    StopFailed,
    ValidationFailed,
)

from agent.errors import NovaActError

# What the SDK says when act_get's answer does not match the schema it was given.
_SCHEMA_MISMATCH = "did not match expected schema"

KINDS: tuple[tuple[type[BaseException], str], ...] = (
    (sdk.ActTimeoutError, "Timeout"),
    (sdk.ActExceededMaxStepsError, "MaxSteps"),
    (sdk.ActAgentFailed, "AgentFailed"),
    (sdk.ActGuardrailsError, "Guardrails"),
    (sdk.ActStateGuardrailError, "Guardrails"),
    (sdk.ActInvalidModelGenerationError, "InvalidModelGeneration"),
    (InterpreterError, "InvalidModelGeneration"),
    (sdk.ActCanceledError, "Canceled"),
    (sdk.ActActuationError, "ActuationFailed"),
    (sdk.ActExecutionError, "ExecutionFailed"),
    (sdk.ActRateLimitExceededError, "Throttled"),
    (sdk.ActClientError, "BadRequest"),
    (sdk.ActServerError, "ServiceError"),
    (sdk.ActAPIError, "ServiceError"),
    (AuthError, "Auth"),
    (IAMAuthError, "Auth"),
    (ValidationFailed, "InvalidInput"),
)

# Exceptions from the transport itself (botocore, requests): the service could not be reached.
_UNREACHABLE = ("EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError")


def to_step_error(exc: BaseException, step: int) -> NovaActError:
    """The agent's error for an exception out of the SDK; the message is one line, without
    the SDK's feedback link and metadata dump."""
    error = _unwrapped(exc)
    kind = next((k for cls, k in KINDS if isinstance(error, cls)), None)
    message = _message(error)
    if isinstance(error, sdk.ActInvalidModelGenerationError) and _SCHEMA_MISMATCH in message:
        kind = "SchemaMismatch"
    if kind is None:
        kind = "ServiceError" if _is_unreachable(error) else "Error"
    return NovaActError(f"Nova Act {type(error).__name__}: {message}", kind=kind, step=step)


def _unwrapped(exc: BaseException) -> BaseException:
    """The error behind the SDK's wrappers (start and stop wrap whatever went wrong)."""
    seen: set[int] = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        inner = exc.__cause__ or exc.__context__
        wraps = isinstance(exc, StartFailed | StopFailed) or type(exc) is sdk.ActError
        if not wraps or inner is None:
            return exc
        exc = inner
    return exc


def _is_unreachable(exc: BaseException) -> bool:
    return type(exc).__name__ in _UNREACHABLE or isinstance(exc, ConnectionError)


def _message(exc: BaseException) -> str:
    text = getattr(exc, "message", None) if isinstance(exc, sdk.ActError) else None
    text = str(text or exc or type(exc).__name__)
    return " ".join(text.split())[:2000]
