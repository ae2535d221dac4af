"""`act` / `act_with_schema` steps: the real Nova Act SDK driving real headless Chromium on the
demo site, against a fake Nova Act service at the SDK's service-client boundary
(tests/nova_act_service.py: the SDK's own boto3 client signs and sends real HTTP to it).

Without the `nova` extra only the tests of the NotConfigured answers run.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from conftest import Cli, files_under, find_secret
from in_process_browser import InProcessBrowser, started
from nova_act_service import Delayed, FakeNovaActService, Fault, box, call, observe

from agent.browser import ContextOptions
from agent.config import NovaActSettings
from agent.demo.site import DemoSite
from agent.executor import runner as executor_runner
from agent.levels import LevelChoice, RecordingLevel
from agent.nova import NovaActRunner
from agent.script import bind, parse_script
from agent.script.variables import resolve_env_secret

pytestmark = pytest.mark.browser

HAS_SDK = importlib.util.find_spec("nova_act") is not None


@pytest.fixture
def _sdk_installed() -> None:
    """The dev extra includes nova: a missing SDK is a broken setup, not a reason to skip."""
    if not HAS_SDK:
        pytest.fail("nova-act is not installed: run scripts/setup (pip install -e '.[dev]')")


needs_sdk = pytest.mark.usefixtures("_sdk_installed")

ACCESS_KEY = "AKIDNOVAACTTEST00001"
SECRET_KEY = "nova-act-test-secret-access-key"
WORKFLOW = "browser-agent-test"
# Distinctive runs of letters, so any encoding of the secret that leaks is still found.
SECRET = "Qx7-Vb3-Lm9-nova"
SIGN_IN = "Sign in as {{user}} with the password {{password}}"
WELCOME_SCHEMA = {
    "type": "object",
    "properties": {"greeting": {"type": "string"}},
    "required": ["greeting"],
}


class Browser(InProcessBrowser):
    executor_settings: ClassVar[dict[str, Any]] = {"act_timeout_ms": 60_000}

    def boxes(self, url: str, selectors: tuple[str, ...]) -> dict[str, dict[str, float]]:
        async def measure() -> dict[str, dict[str, float]]:
            context = await self.driver.new_context(ContextOptions())
            try:
                page = await context.new_page()
                await page.goto(url)
                found = {s: await page.locator(s).bounding_box() for s in selectors}
                return {s: b for s, b in found.items() if b is not None}
            finally:
                await context.close()

        return self.run_coroutine(measure())


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from started(Browser())


@pytest.fixture(scope="module")
def service() -> Iterator[FakeNovaActService]:
    with FakeNovaActService() as fake:
        yield fake


@pytest.fixture(scope="module")
def login_rects(browser: Browser, demo_site: DemoSite) -> dict[str, dict[str, float]]:
    """Where the sign-in form's parts are on the page (x, y, width, height)."""
    return browser.boxes(demo_site.url + "/login", ("#username", "#password", "#login-button"))


@pytest.fixture(scope="module")
def login_boxes(login_rects: dict[str, dict[str, float]]) -> dict[str, str]:
    """The same, as the model points at them."""
    return {s: box(b) for s, b in login_rects.items()}


def aws_environment(service: FakeNovaActService) -> dict[str, str]:
    """Static test credentials, and STS at the fake (the SDK checks the identity first)."""
    return {
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_ENDPOINT_URL_STS": service.url,
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, service: FakeNovaActService) -> None:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "NOVA_ACT_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in aws_environment(service).items():
        monkeypatch.setenv(name, value)


def nova_runner(service: FakeNovaActService, **overrides: Any) -> NovaActRunner:
    options: dict[str, Any] = {
        "enabled": True,
        "workflow_definition_name": WORKFLOW,
        "endpoint_url": service.url,
        "ignore_https_errors": True,  # the demo site is http:// on 127.0.0.1
    }
    return NovaActRunner(NovaActSettings(**{**options, **overrides}))


def sign_in_script(site: DemoSite, *steps: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "nova-act-sign-in",
        "starting_page": site.url + "/login",
        "variables": {"user": {"default": DemoSite.USERNAME}, "password": {"secret": True}},
        "steps": list(steps),
    }


def sign_in_turns(boxes: dict[str, str]) -> list[list[dict[str, Any]]]:
    """The model's answers for SIGN_IN: type both fields and submit, then report success."""
    return [
        [
            call("agentType", DemoSite.USERNAME, boxes["#username"]),
            call("agentType", DemoSite.PASSWORD, boxes["#password"], {"pressEnter": True}),
            *observe(),
        ],
        [call("return", "signed in")],
    ]


SIGN_IN_VARIABLES = {"user": DemoSite.USERNAME, "password": DemoSite.PASSWORD}


# -- an act step, and the SDK's conversation with the service -----------------------------------


@needs_sdk
def test_act_step_signs_in_and_the_run_succeeds(
    browser: Browser,
    demo_site: DemoSite,
    service: FakeNovaActService,
    login_boxes: dict[str, str],
    aws_env: None,
    tmp_path: Path,
) -> None:
    service.reset(*sign_in_turns(login_boxes))
    data = sign_in_script(
        demo_site,
        {"action": "act", "prompt": SIGN_IN, "max_steps": 5},
        {"action": "assert", "selector": "#welcome"},
    )
    result = browser.run(
        data, tmp_path / "spool", nova_runner(service), variables=SIGN_IN_VARIABLES
    )

    assert result.success, result.error
    act = result.steps[0]
    assert act.status == "ok"
    assert isinstance(act.output, dict) and act.output["steps"] == 2 and act.output["act_id"]
    assert [s.status for s in result.steps] == ["ok", "ok"]

    created = service.calls_of("CreateWorkflowRun")[0]
    assert created.body["modelId"] == "nova-act-latest"
    assert created.path == f"/workflow-definitions/{WORKFLOW}/workflow-runs"
    assert service.calls_of("CreateAct")[0].body["task"] == SIGN_IN.replace(
        "{{user}}", DemoSite.USERNAME
    ).replace("{{password}}", DemoSite.PASSWORD)
    assert len(service.calls_of("InvokeActStep")) == 2
    assert service.calls_of("UpdateAct")[0].body["status"] == "SUCCEEDED"
    assert service.calls_of("UpdateWorkflowRun")[0].body["status"] == "SUCCEEDED"
    # IAM, not a key: every call is SigV4-signed for nova-act with the chain's credentials.
    for request in service.requests:
        if request.operation != "Unknown":
            authorization = request.headers["authorization"]
            assert authorization.startswith("AWS4-HMAC-SHA256 Credential=" + ACCESS_KEY)
    signed_for = {
        r.headers["authorization"].split("/")[3]
        for r in service.requests
        if r.operation not in {"GetCallerIdentity", "Unknown"}
    }
    assert signed_for == {"nova-act"}
    assert all("x-api-key" not in r.headers for r in service.requests)


@needs_sdk
def test_act_with_schema_answer_is_validated_into_outputs(
    browser: Browser,
    demo_site: DemoSite,
    service: FakeNovaActService,
    aws_env: None,
    tmp_path: Path,
) -> None:
    answer = {"greeting": "Welcome, demo"}
    service.reset([call("return", json.dumps(answer))])
    data = sign_in_script(
        demo_site,
        {
            "action": "act_with_schema",
            "prompt": "Read the heading",
            "schema": WELCOME_SCHEMA,
            "name": "heading",
        },
    )
    spool = tmp_path / "spool"
    result = browser.run(data, spool, nova_runner(service), variables=SIGN_IN_VARIABLES)

    assert result.success, result.error
    assert result.outputs == {"heading": answer}
    assert result.steps[0].output == answer
    kept = next(p for p in files_under(spool) if p.name == "heading.json")
    assert json.loads(kept.read_text()) == answer
    task = service.calls_of("CreateAct")[0].body["task"]
    assert task.startswith("Read the heading") and json.dumps(WELCOME_SCHEMA) in task


@needs_sdk
@pytest.mark.parametrize(
    "answer",
    ['{"greeting": 5}', "not json at all"],
    ids=["wrong-type", "not-json"],
)
def test_answer_not_matching_the_schema_fails_as_schema_mismatch(
    browser: Browser,
    demo_site: DemoSite,
    service: FakeNovaActService,
    aws_env: None,
    tmp_path: Path,
    answer: str,
) -> None:
    service.reset([call("return", answer)])
    step = {"action": "act_with_schema", "prompt": "Read it", "schema": WELCOME_SCHEMA}
    data = sign_in_script(demo_site, step, {"action": "assert", "selector": "h1"})
    result = browser.run(
        data, tmp_path / "spool", nova_runner(service), variables=SIGN_IN_VARIABLES
    )

    assert not result.success
    assert result.error is not None
    assert result.error.code == "BrowserAgent.NovaAct.SchemaMismatch"
    assert result.error.step == 1
    assert [s.status for s in result.steps] == ["failed", "skipped"]
    assert result.outputs == {}


def test_invalid_schema_fails_before_nova_act_is_asked(
    browser: Browser, demo_site: DemoSite, tmp_path: Path
) -> None:
    step = {"action": "act_with_schema", "prompt": "Read it", "schema": {"type": "no-such-type"}}
    runner = NovaActRunner(NovaActSettings(enabled=True))
    result = browser.run(sign_in_script(demo_site, step), tmp_path / "spool", runner)
    assert result.error is not None
    assert result.error.code == "BrowserAgent.StepFailed"
    assert "invalid schema" in result.error.message


# -- one workflow run and one session per script run ---------------------------------------------


def nova_act_calls(service: FakeNovaActService) -> list[str]:
    """The Nova Act operations called, in order (STS's identity check left out)."""
    return [r.operation for r in service.requests if r.operation != "GetCallerIdentity"]


def wait_for(condition: Any, seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return bool(condition())


def sdk_threads_ended() -> bool:
    return not any(t.name == "nova-act" for t in threading.enumerate())


@needs_sdk
def test_act_steps_share_one_workflow_run_and_session(
    browser: Browser,
    demo_site: DemoSite,
    service: FakeNovaActService,
    login_boxes: dict[str, str],
    aws_env: None,
    tmp_path: Path,
) -> None:
    """Two act steps, a step of the script's own between them: one CreateWorkflowRun, one
    CreateSession, an act each in it, and the run closed as SUCCEEDED after the last act."""
    service.reset(*sign_in_turns(login_boxes), [call("return", json.dumps({"greeting": "Hi"}))])
    data = sign_in_script(
        demo_site,
        {"action": "act", "prompt": SIGN_IN, "max_steps": 5},
        {"action": "assert", "selector": "#welcome"},
        {"action": "act_with_schema", "prompt": "Read it", "schema": WELCOME_SCHEMA},
    )
    result = browser.run(
        data, tmp_path / "spool", nova_runner(service), variables=SIGN_IN_VARIABLES
    )

    assert result.success, result.error
    assert [s.status for s in result.steps] == ["ok", "ok", "ok"]
    calls = nova_act_calls(service)
    assert calls.count("CreateWorkflowRun") == 1 and calls.count("CreateSession") == 1
    assert calls.count("CreateAct") == 2
    assert calls[-1] == "UpdateWorkflowRun" and calls.count("UpdateWorkflowRun") == 1
    assert service.calls_of("UpdateWorkflowRun")[0].body["status"] == "SUCCEEDED"
    assert [r.body["status"] for r in service.calls_of("UpdateAct")] == ["SUCCEEDED"] * 2
    session_paths = {r.path.rsplit("/acts", 1)[0] for r in service.calls_of("CreateAct")}
    assert len(session_paths) == 1  # both acts in the one session
    assert wait_for(sdk_threads_ended, 5)


@needs_sdk
def test_shared_workflow_run_fails_with_the_script_run(
    browser: Browser,
    demo_site: DemoSite,
    service: FakeNovaActService,
    aws_env: None,
    tmp_path: Path,
) -> None:
    """The acts succeed, a later step of the script fails: the workflow run ends FAILED."""
    service.reset([call("return", "looked")])
    data = sign_in_script(
        demo_site,
        {"action": "act", "prompt": "Look at the page"},
        {"action": "assert", "selector": "#no-such-thing", "timeout_ms": 200},
    )
    result = browser.run(data, tmp_path / "spool", nova_runner(service))

    assert not result.success
    assert [s.status for s in result.steps] == ["ok", "failed"]
    assert service.calls_of("UpdateAct")[0].body["status"] == "SUCCEEDED"
    calls = nova_act_calls(service)
    assert calls.count("CreateWorkflowRun") == 1 and calls[-1] == "UpdateWorkflowRun"
    assert [r.body["status"] for r in service.calls_of("UpdateWorkflowRun")] == ["FAILED"]
    assert wait_for(sdk_threads_ended, 5)


@needs_sdk
@pytest.mark.parametrize("abort_on_error", [True, False], ids=["abort", "go-on"])
def test_failing_first_act_still_closes_the_workflow_run(
    browser: Browser,
    demo_site: DemoSite,
    service: FakeNovaActService,
    aws_env: None,
    tmp_path: Path,
    abort_on_error: bool,
) -> None:
    """The first act fails: the run is closed as FAILED, once, at the end; with
    abort_on_error false the next act runs in the same session."""
    service.reset([call("throw", "there is no such button")], [call("return", "done")])
    data = sign_in_script(
        demo_site,
        {"action": "act", "prompt": "Press the missing button"},
        {"action": "act", "prompt": "Look at the page"},
    )
    data["abort_on_error"] = abort_on_error
    result = browser.run(data, tmp_path / "spool", nova_runner(service))

    assert result.error is not None
    assert result.error.code == "BrowserAgent.NovaAct.AgentFailed"
    expected_acts = ["FAILED"] if abort_on_error else ["FAILED", "SUCCEEDED"]
    assert [r.body["status"] for r in service.calls_of("UpdateAct")] == expected_acts
    calls = nova_act_calls(service)
    assert calls.count("CreateWorkflowRun") == 1 and calls.count("CreateSession") == 1
    assert calls[-1] == "UpdateWorkflowRun"
    assert [r.body["status"] for r in service.calls_of("UpdateWorkflowRun")] == ["FAILED"]
    assert wait_for(sdk_threads_ended, 5)


@needs_sdk
def test_session_that_cannot_start_closes_its_workflow_run_at_once(
    browser: Browser,
    demo_site: DemoSite,
    service: FakeNovaActService,
    aws_env: None,
    tmp_path: Path,
) -> None:
    service.reset(faults={"CreateSession": Fault(403, "AccessDeniedException", "not allowed")})
    step = {"action": "act", "prompt": "Look at the page"}
    result = browser.run(sign_in_script(demo_site, step), tmp_path / "spool", nova_runner(service))

    assert result.error is not None
    assert result.error.code == "BrowserAgent.NovaAct.Auth"
    assert nova_act_calls(service) == ["CreateWorkflowRun", "CreateSession", "UpdateWorkflowRun"]
    assert service.calls_of("UpdateWorkflowRun")[0].body["status"] == "FAILED"
    assert wait_for(sdk_threads_ended, 5)


@needs_sdk
def test_run_without_an_act_step_makes_no_nova_act_call(
    browser: Browser,
    demo_site: DemoSite,
    service: FakeNovaActService,
    aws_env: None,
    tmp_path: Path,
) -> None:
    service.reset()
    data = sign_in_script(demo_site, {"action": "assert", "selector": "#username"})
    result = browser.run(data, tmp_path / "spool", nova_runner(service))

    assert result.success, result.error
    assert service.requests == []
    assert sdk_threads_ended()


@needs_sdk
def test_cancelled_run_closes_its_workflow_run_and_thread(
    browser: Browser,
    demo_site: DemoSite,
    service: FakeNovaActService,
    login_boxes: dict[str, str],
    aws_env: None,
    tmp_path: Path,
) -> None:
    """The task is cancelled mid-act (its timeout, a shutdown): the page is taken back at once,
    and once the model answers (too late) the act and the workflow run end FAILED and the
    SDK's thread ends."""
    late = [call("agentType", "too late", login_boxes["#username"]), *observe()]
    service.reset(Delayed(3, late))
    bound = bind(parse_script(sign_in_script(demo_site, {"action": "act", "prompt": "Type"})), {})
    executor = browser.executor(tmp_path / "spool", nova_runner(service))

    async def cancel_mid_act() -> None:
        work = asyncio.create_task(executor.run(bound, LevelChoice(RecordingLevel.INFO, "test")))
        deadline = time.monotonic() + 20
        while not service.calls_of("InvokeActStep") and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        work.cancel()
        with pytest.raises(asyncio.CancelledError):
            await work

    started = time.monotonic()
    browser.run_coroutine(cancel_mid_act())
    assert time.monotonic() - started < 20
    assert wait_for(lambda: service.calls_of("UpdateWorkflowRun"))
    assert service.calls_of("UpdateWorkflowRun")[0].body["status"] == "FAILED"
    assert service.calls_of("UpdateAct")[0].body["status"] == "FAILED"
    assert len(service.calls_of("InvokeActStep")) == 1  # refused the page: no further step
    assert nova_act_calls(service).count("UpdateWorkflowRun") == 1
    assert wait_for(sdk_threads_ended, 5)


# -- each kind of failure, through the SDK -----------------------------------------------------


FAILURES = {
    "agent-gives-up": ([[call("throw", "there is no such button")]], {}, "AgentFailed"),
    "max-steps": ([[call("think", "hmm"), *observe()]] * 3, {}, "MaxSteps"),
    "timeout": ([[call("wait", 3), *observe()]] * 2, {}, "Timeout"),
    "guardrails": (
        [],
        {"InvokeActStep": Fault(400, "ValidationException", "unsafe", "GuardrailIntervened")},
        "Guardrails",
    ),
    "bad-request": ([], {"InvokeActStep": Fault(400, "ValidationException", "bad")}, "BadRequest"),
    "throttled": (
        [],
        {"InvokeActStep": Fault(429, "ThrottlingException", "slow down")},
        "Throttled",
    ),
    "service-error": (
        [],
        {"InvokeActStep": Fault(500, "InternalServerException", "boom")},
        "ServiceError",
    ),
    "access-denied": (
        [],
        {"CreateSession": Fault(403, "AccessDeniedException", "not allowed")},
        "Auth",
    ),
    "invalid-model-output": (
        [[call("agentClick", "<box>nowhere</box>")]],
        {},
        "InvalidModelGeneration",
    ),
    "unknown-tool": (
        [[{"callId": "t-1", "name": "flyToTheMoon", "input": {}}]],
        {},
        "ExecutionFailed",
    ),
}


@needs_sdk
@pytest.mark.parametrize("case", list(FAILURES), ids=list(FAILURES))
def test_each_sdk_failure_becomes_its_nova_act_code(
    browser: Browser,
    demo_site: DemoSite,
    service: FakeNovaActService,
    aws_env: None,
    tmp_path: Path,
    case: str,
) -> None:
    turns, faults, kind = FAILURES[case]
    service.reset(*turns, faults=faults)
    timeout_ms = 2000 if case == "timeout" else 30_000  # the SDK's shortest timeout is 2 s
    step = {"action": "act", "prompt": "Find the button", "max_steps": 2, "timeout_ms": timeout_ms}
    result = browser.run(sign_in_script(demo_site, step), tmp_path / "spool", nova_runner(service))
    assert result.error is not None
    assert result.error.code == f"BrowserAgent.NovaAct.{kind}", result.error.message
    assert result.error.step == 1
    assert "Please consider providing feedback" not in result.error.message


@needs_sdk
def test_unreachable_service_is_a_service_error(
    browser: Browser,
    demo_site: DemoSite,
    service: FakeNovaActService,
    aws_env: None,
    tmp_path: Path,
) -> None:
    service.reset()
    runner = nova_runner(service, endpoint_url="http://127.0.0.1:9")  # nothing listens there
    step = {"action": "act", "prompt": "Find the button"}
    result = browser.run(sign_in_script(demo_site, step), tmp_path / "spool", runner)
    assert result.error is not None
    assert result.error.code == "BrowserAgent.NovaAct.ServiceError", result.error.message


@needs_sdk
def test_sdk_certificate_check_guards_the_act_and_leaves_with_it(
    browser: Browser,
    demo_site: DemoSite,
    service: FakeNovaActService,
    aws_env: None,
    tmp_path: Path,
) -> None:
    """With its certificate check on (ignore_https_errors false), the SDK refuses to take the
    agent to an http:// page; the check, a route on the task's context, goes when the act
    ends, so the script's own steps load http:// pages again."""
    service.reset([call("goToUrl", demo_site.url + "/results"), *observe()])
    data = sign_in_script(
        demo_site,
        {"action": "act", "prompt": "Open the results"},
        {"action": "goto", "url": demo_site.url + "/results"},
        {"action": "assert", "selector": "#results"},
    )
    data["abort_on_error"] = False
    runner = nova_runner(service, ignore_https_errors=False)
    result = browser.run(data, tmp_path / "spool", runner)
    assert result.error is not None
    assert result.error.code == "BrowserAgent.NovaAct.ActuationFailed", result.error.message
    assert "InvalidCertificate" in result.error.message
    assert [s.status for s in result.steps] == ["failed", "ok", "ok"]


@needs_sdk
def test_executor_deadline_takes_the_page_back_from_a_stuck_act(
    browser: Browser,
    demo_site: DemoSite,
    service: FakeNovaActService,
    login_boxes: dict[str, str],
    aws_env: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The model answers long after the executor's deadline: the step fails as a timeout at the
    deadline, and the SDK, still running in its thread, is refused the page when the answer
    comes (its act then ends as failed, in the background)."""
    monkeypatch.setattr(executor_runner, "NOVA_ACT_GRACE_S", 0.5)
    late = [call("agentType", "too late", login_boxes["#username"]), *observe()]
    service.reset(Delayed(6, late))
    # The SDK's first look at the page takes about 2 s (it waits for the page to settle), so
    # the deadline (4 s + grace) falls while it waits for the model.
    step = {"action": "act", "prompt": "Type something", "timeout_ms": 4000}
    started = time.monotonic()
    result = browser.run(sign_in_script(demo_site, step), tmp_path / "spool", nova_runner(service))
    assert time.monotonic() - started < 7
    assert result.error is not None
    assert result.error.code == "BrowserAgent.Timeout"
    deadline = time.monotonic() + 20
    while not service.calls_of("UpdateWorkflowRun") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert service.calls_of("UpdateAct")[0].body["status"] == "FAILED"
    assert service.calls_of("UpdateWorkflowRun")[0].body["status"] == "FAILED"
    assert len(service.calls_of("InvokeActStep")) == 1
    assert "StepDetached" in service.calls_of("UpdateAct")[0].body["error"]["message"]


@needs_sdk
def test_every_sdk_error_class_has_its_kind() -> None:
    from nova_act.types import act_errors as sdk
    from nova_act.types.errors import AuthError, IAMAuthError, InvalidURL, StartFailed

    from agent.nova.failures import to_step_error

    def start_failed(cause: BaseException) -> StartFailed:
        try:
            raise StartFailed("could not start") from cause
        except StartFailed as exc:
            return exc

    expected = {
        sdk.ActTimeoutError(): "Timeout",
        sdk.ActExceededMaxStepsError(): "MaxSteps",
        sdk.ActAgentFailed(message="no"): "AgentFailed",
        sdk.ActGuardrailsError(): "Guardrails",
        sdk.ActStateGuardrailError(): "Guardrails",
        sdk.ActInvalidModelGenerationError(): "InvalidModelGeneration",
        sdk.ActInvalidToolError(): "InvalidModelGeneration",
        sdk.ActInvalidModelGenerationError(
            message="Result '5' did not match expected schema '{}.'"
        ): "SchemaMismatch",
        sdk.ActCanceledError(): "Canceled",
        sdk.ActActuationError(): "ActuationFailed",
        sdk.ActToolError(): "ExecutionFailed",
        sdk.ActExecutionError(): "ExecutionFailed",
        sdk.ActRateLimitExceededError(): "Throttled",
        sdk.ActRequestThrottledError(): "Throttled",
        sdk.ActDailyQuotaExceededError(): "Throttled",
        sdk.ActBadRequestError(): "BadRequest",
        sdk.ActClientError(): "BadRequest",
        sdk.ActServiceUnavailableError(): "ServiceError",
        sdk.ActInternalServerError(): "ServiceError",
        sdk.ActBadResponseError(): "ServiceError",
        sdk.ActServerError(): "ServiceError",
        sdk.ActAPIError(): "ServiceError",
        AuthError("denied"): "Auth",
        IAMAuthError(): "Auth",
        start_failed(AuthError("denied")): "Auth",
        InvalidURL("javascript:"): "InvalidInput",
        sdk.ActError(): "Error",
        RuntimeError("unexpected"): "Error",
    }
    for error, kind in expected.items():
        assert to_step_error(error, 3).code == f"BrowserAgent.NovaAct.{kind}", type(error)
        assert to_step_error(error, 3).step == 3


# -- secrets: nowhere in the output or the recording -------------------------------------------


@needs_sdk
def test_secret_in_the_prompt_is_nowhere_in_output_logs_or_recording(
    cli: Cli,
    demo_site: DemoSite,
    service: FakeNovaActService,
    login_boxes: dict[str, str],
    login_rects: dict[str, dict[str, float]],
    tmp_path: Path,
) -> None:
    """The whole agent, at TRACE (every artifact there is, Nova Act's own traces included) and
    at log level DEBUG: the secret in the prompts, typed by the agent, leaks nowhere."""
    service.reset(
        [
            call("agentType", SECRET, login_boxes["#username"]),
            call("agentType", DemoSite.PASSWORD, login_boxes["#password"]),
            *observe(),
        ],
        [call("return", f"typed {SECRET}")],
        [call("return", json.dumps({"greeting": "Sign in"}))],
    )
    script = sign_in_script(
        demo_site,
        {"action": "act", "prompt": "Type {{token}} as the user and {{password}} as password"},
        {
            "action": "act_with_schema",
            "prompt": "Read the heading; the token was {{token}}",
            "schema": WELCOME_SCHEMA,
            "name": "heading",
        },
    )
    script["variables"]["token"] = {"secret": True}
    path = tmp_path / "script.json"
    path.write_text(json.dumps(script))
    out = tmp_path / "recordings"
    env = {
        **aws_environment(service),
        "BROWSER_AGENT_NOVA_ACT__ENABLED": "true",
        "BROWSER_AGENT_NOVA_ACT__WORKFLOW_DEFINITION_NAME": WORKFLOW,
        "BROWSER_AGENT_NOVA_ACT__ENDPOINT_URL": service.url,
        "BROWSER_AGENT_NOVA_ACT__IGNORE_HTTPS_ERRORS": "true",
        "BROWSER_AGENT_LOG__LEVEL": "DEBUG",
        "NOVA_ACT_LOG_LEVEL": "10",  # asks the SDK for DEBUG on its own handlers: ignored
        "DEMO_TOKEN": SECRET,
        "DEMO_PASSWORD": DemoSite.PASSWORD,
    }
    completed = cli(
        "run-script",
        path,
        "--level",
        "trace",
        "--out",
        out,
        "--var",
        f"user={DemoSite.USERNAME}",
        "--secret",
        "token=env:DEMO_TOKEN",
        "--secret",
        "password=env:DEMO_PASSWORD",
        env=env,
    )
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout)  # nothing of the SDK's on stdout
    assert result["success"] is True, result["error"]
    assert result["outputs"] == {"heading": {"greeting": "Sign in"}}
    assert "nova_act:" in completed.stderr  # the SDK's logging went through loguru

    kept = files_under(out)
    traces = [p for p in kept if p.parent.name == "nova-act"]
    assert {p.name for p in traces} >= {"step-001-act.html", "step-002-act.html"}
    manifest = json.loads(next(p for p in kept if p.name == "manifest.json").read_text())
    assert "nova-act-trace" in {a["type"] for a in manifest["artifacts"]}
    assert {"video.webm", "trace.zip", "network.har"} <= {p.name for p in kept}
    # Sent to the service (the model needs the prompt), kept nowhere of ours.
    assert SECRET in service.calls_of("CreateAct")[0].body["task"]
    texts = {"stdout": completed.stdout, "stderr": completed.stderr}
    for secret in (SECRET, DemoSite.PASSWORD):
        assert find_secret(secret, texts, [out]) == []
    # The field the agent typed the secret into is masked in the agent's own screenshots.
    after_act = next(p for p in kept if p.name == "001-act.png")
    assert _is_masked(after_act, login_rects["#username"])
    assert not _is_masked(after_act, login_rects["#login-button"])
    # Parts of it, in case an encoding splits it; only in text (3 bytes turn up in a video).
    texts.update({str(p): p.read_text() for p in kept if p.suffix in {".json", ".html", ".log"}})
    for part in ("Qx7", "Vb3", "Lm9"):
        assert find_secret(part, texts, []) == []


# -- not installed, not configured -------------------------------------------------------------


def test_act_step_without_nova_act_enabled_is_not_configured(
    cli: Cli, demo_site: DemoSite, tmp_path: Path
) -> None:
    path = tmp_path / "script.json"
    path.write_text(json.dumps(sign_in_script(demo_site, {"action": "act", "prompt": "sign in"})))
    completed = cli("run-script", path, "--var", "user=demo", "--out", tmp_path / "out")
    result = json.loads(completed.stdout)
    assert completed.returncode != 0
    assert result["error"]["code"] == "BrowserAgent.NovaAct.NotConfigured"
    assert "nova_act.enabled" in result["error"]["message"]


def test_act_step_without_the_nova_extra_is_not_configured(
    browser: Browser, demo_site: DemoSite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "nova_act", None)  # as if the extra were not installed
    runner = NovaActRunner(NovaActSettings(enabled=True, workflow_definition_name=WORKFLOW))
    step = {"action": "act_with_schema", "prompt": "read", "schema": {"type": "object"}}
    result = browser.run(sign_in_script(demo_site, step), tmp_path / "spool", runner)
    assert result.error is not None
    assert result.error.code == "BrowserAgent.NovaAct.NotConfigured"
    assert "pip install 'browser-agent[nova]'" in result.error.message


# -- the API-key path ----------------------------------------------------------------------------


@needs_sdk
def test_api_key_is_read_through_its_reference_and_never_shown(
    browser: Browser,
    demo_site: DemoSite,
    service: FakeNovaActService,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """nova.amazon.com keys: the SDK's client only knows its public address, so the test points
    that one attribute at the fake; everything else is the SDK's own request code."""
    from nova_act.impl.backends.sunburst.client import SunburstClient

    key = "0123abcd-0123-4abc-8def-0123456789ab"  # the SDK checks the length: 36
    monkeypatch.setenv("TEST_NOVA_ACT_KEY", key)
    public_endpoints = SunburstClient._resolve_endpoints

    def fake_endpoint(client: SunburstClient) -> None:
        public_endpoints(client)
        client._api_url = service.url

    monkeypatch.setattr(SunburstClient, "_resolve_endpoints", fake_endpoint)
    service.reset([call("return", "done")])
    runner = NovaActRunner(
        NovaActSettings(enabled=True, auth="api_key", ignore_https_errors=True),
        api_key=lambda: resolve_env_secret("env:TEST_NOVA_ACT_KEY"),
    )
    step = {"action": "act", "prompt": "Look at the page"}
    spool = tmp_path / "spool"
    result = browser.run(sign_in_script(demo_site, step), spool, runner, level=RecordingLevel.TRACE)

    assert result.success, result.error
    assert service.calls_of("CreateAct")[0].headers["x-api-key"] == key
    assert service.calls_of("CreateWorkflowRun")[0].body["modelId"] == "nova-act-preview"
    captured = capfd.readouterr()
    texts = {"stdout": captured.out, "stderr": captured.err, "result": result.model_dump_json()}
    assert find_secret(key, texts, [spool]) == []


def _is_masked(png: Path, rect: dict[str, float]) -> bool:
    """Only Playwright's mask colour inside the element's box."""
    from PIL import Image

    inner = (
        int(rect["x"]) + 2,
        int(rect["y"]) + 2,
        int(rect["x"] + rect["width"]) - 2,
        int(rect["y"] + rect["height"]) - 2,
    )
    colours = Image.open(png).convert("RGB").crop(inner).getcolors(maxcolors=1 << 16) or []
    return [colour for _, colour in colours] == [(255, 0, 255)]
