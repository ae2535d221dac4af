"""The worker's parts that need neither AWS nor a browser: input forms, answers, backoff,
poll retries, liveness."""

from __future__ import annotations

import json
import random
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from malformed_inputs import MALFORMED

from agent.aws import AwsClients
from agent.errors import InvalidInput
from agent.result import RecordingSummary, RunError, RunResult, StepResult
from agent.worker.answers import (
    MAX_CAUSE_CHARS,
    MAX_ERROR_CHARS,
    failure,
    failure_from_result,
    success_output,
)
from agent.worker.health import check_liveness, write_liveness
from agent.worker.poller import Backoff, poll_error_hint
from agent.worker.task_input import parse_task_input
from agent.worker.templates import FolderTemplates

SCRIPT = {"name": "s", "steps": [{"action": "goto", "url": "{{base}}/x"}]}


@pytest.fixture
def templates(tmp_path: Path) -> FolderTemplates:
    (tmp_path / "results_table").mkdir()
    (tmp_path / "results_table" / "1.0.0.json").write_text(json.dumps(SCRIPT))
    return FolderTemplates(tmp_path)


def test_all_four_input_forms_give_the_same_script(templates: FolderTemplates) -> None:
    given = {"base": "http://a"}
    plain = parse_task_input(
        json.dumps({**SCRIPT, "steps": [{"action": "goto", "url": "u"}]}), templates
    )
    wrapped = parse_task_input(
        json.dumps({"script": SCRIPT, "variables": given, "recording_level": "debug"}), templates
    )
    template = parse_task_input(
        json.dumps({"template": "results_table@1.0.0", "variables": given}), templates
    )
    envelope = parse_task_input(
        json.dumps(
            {
                "tool_name": "browser",
                "tool_use_id": "tu-9",
                "tool_input": {"template": "results_table@1.0.0", "variables": given},
                "timestamp": "2026-01-01T00:00:00Z",
                "context": {"k": "v"},
            }
        ),
        templates,
    )
    assert plain.script.name == "s" and plain.envelope is None
    assert wrapped.recording_level == "debug" and wrapped.variables == given
    assert template.script == wrapped.script and template.variables == given
    assert envelope.script == wrapped.script
    assert envelope.envelope == {
        "tool_name": "browser",
        "tool_use_id": "tu-9",
        "timestamp": "2026-01-01T00:00:00Z",
        "context": {"k": "v"},
    }


@pytest.mark.parametrize(("label", "raw", "fragment"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_input_is_invalid_input_with_a_clear_message(
    templates: FolderTemplates, label: str, raw: str, fragment: str
) -> None:
    from agent.script import bind

    with pytest.raises(InvalidInput) as caught:
        request = parse_task_input(raw, templates)
        bind(request.script, request.variables)
    assert fragment in caught.value.message, caught.value.message


def test_envelope_answer_carries_the_result_inside_the_envelope() -> None:
    result = _result(success=True)
    output = json.loads(success_output(result, {"tool_name": "browser", "tool_use_id": "tu-1"}))
    assert output["tool_use_id"] == "tu-1"
    assert output["approved"] is True
    assert output["tool_input"]["script_output"]["session_id"] == result.session_id


def test_cause_is_cut_to_the_api_limit_and_stays_json() -> None:
    answer = failure("BrowserAgent." + "X" * 400, 'é"' * 40_000, step=3, result=_result(False))
    assert len(answer.error) <= MAX_ERROR_CHARS
    assert len(answer.cause) <= MAX_CAUSE_CHARS
    cause = json.loads(answer.cause)
    assert cause["message"].endswith("[cut]")
    assert cause["step"] == 3 and cause["step_action"] == "assert"


def test_failure_cause_names_step_and_manifest() -> None:
    cause = json.loads(failure_from_result(_result(False)).cause)
    assert cause["error"] == "BrowserAgent.StepFailed"
    assert cause["step"] == 3
    assert cause["manifest_uri"] == "s3://b/m.json"


def test_backoff_grows_with_jitter_up_to_the_cap() -> None:
    backoff = Backoff(1, 8, random.Random(1))
    delays = [backoff.next_delay() for _ in range(6)]
    assert 0.5 <= delays[0] <= 1
    assert all(d <= 8 for d in delays) and delays[-1] >= 4
    backoff.reset()
    assert backoff.next_delay() <= 1


def test_poll_errors_come_with_a_hint() -> None:
    arn = "arn:aws:states:eu-west-1:123456789012:activity:a"

    def error(code: str) -> ClientError:
        return ClientError({"Error": {"Code": code, "Message": "m"}}, "GetActivityTask")

    assert "states:GetActivityTask" in poll_error_hint(error("AccessDeniedException"), arn, None)
    assert "eu-west-1" in poll_error_hint(error("ActivityDoesNotExist"), arn, "us-east-1")
    assert "throttled" in poll_error_hint(error("ThrottlingException"), arn, None)
    bare_403 = ClientError({"Error": {"Code": "403", "Message": "<xml/>"}}, "GetActivityTask")
    assert "states:GetActivityTask" in poll_error_hint(bare_403, arn, None)
    lost = ReadTimeoutError(endpoint_url="https://states.eu-west-1.amazonaws.com/")
    assert "HeartbeatSeconds" in poll_error_hint(lost, arn, None)


class _BusyOnce(BaseHTTPRequestHandler):
    """A Step Functions endpoint that answers each operation's first request with 503."""

    seen: ClassVar[list[str]] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        operation = self.headers["X-Amz-Target"].rsplit(".", 1)[-1]
        first = operation not in self.seen
        self.seen.append(operation)
        body = b'{"__type": "ServiceUnavailable", "message": "busy"}' if first else b"{}"
        self.send_response(503 if first else 200)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_the_poll_is_made_once_and_heartbeats_are_retried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """botocore must not repeat GetActivityTask (the worker's own backoff does, with a hint;
    after a read timeout a repeat would only hide that a task may have been lost); it does
    repeat heartbeats and answers."""
    _BusyOnce.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _BusyOnce)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    for name, value in {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{server.server_address[1]}",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }.items():
        monkeypatch.setenv(name, value)
    try:
        clients = AwsClients(region="eu-west-1")
        poller = clients.activity_poller()
        assert poller.meta.config.read_timeout > 60  # GetActivityTask holds a poll for 60 s
        with pytest.raises(ClientError, match="busy"):
            poller.get_activity_task(activityArn="arn:aws:states:eu-west-1:1:activity:a")
        clients.stepfunctions().send_task_heartbeat(taskToken="t")
    finally:
        server.shutdown()
        server.server_close()
    assert _BusyOnce.seen == ["GetActivityTask", "SendTaskHeartbeat", "SendTaskHeartbeat"]


def test_liveness_is_healthy_only_while_fresh(tmp_path: Path) -> None:
    path = tmp_path / "health.json"
    assert not check_liveness(path, 30).healthy
    write_liveness(path, {"state": "serving", "running": 1})
    assert check_liveness(path, 30).healthy
    stale = json.loads(path.read_text())["time"] + 31
    assert not check_liveness(path, 30, now=stale).healthy


def _result(success: bool) -> RunResult:
    return RunResult(
        success=success,
        script="s",
        version="1",
        session_id="sid",
        steps=[
            StepResult(n=1, action="goto", status="ok"),
            StepResult(n=2, action="click", status="ok"),
            StepResult(n=3, action="assert", status="failed"),
        ],
        error=None if success else RunError(code="BrowserAgent.StepFailed", message="m", step=3),
        recording=RecordingSummary(level="INFO", level_source="t", manifest_uri="s3://b/m.json"),
    )
