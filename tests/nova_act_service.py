"""A fake Nova Act service on 127.0.0.1, at the SDK's service-client boundary.

It speaks the HTTP APIs the SDK's two service clients call, so the real SDK (its boto3 client
with SigV4 signing, its response models, its error translation, its act loop and actuator)
runs unchanged against it:

- the Nova Act AWS service (IAM auth): REST-JSON under /workflow-definitions/…, as described by
  botocore's `nova-act` service model, plus STS GetCallerIdentity, which the SDK calls to check
  the IAM identity before anything else;
- nova.amazon.com (API-key auth): the same operations under /agent/workflow-definitions/….

The "model" is a queue of turns: each InvokeActStep takes the next one, a list of calls for the
SDK to carry out (agentType, agentClick, return, throw, …). A fault can be set per operation.
Every request is recorded (method, path, headers, JSON body) for assertions.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

STS_IDENTITY = """<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
<GetCallerIdentityResult><Arn>arn:aws:sts::123456789012:assumed-role/agent/task</Arn>
<UserId>AROATEST:task</UserId><Account>123456789012</Account></GetCallerIdentityResult>
<ResponseMetadata><RequestId>{id}</RequestId></ResponseMetadata></GetCallerIdentityResponse>"""

_BASE = r"^/(?:agent/)?workflow-definitions/(?P<definition>[^/]+)/workflow-runs"
OPERATIONS: tuple[tuple[str, re.Pattern[str], int], ...] = (
    ("CreateWorkflowRun", re.compile(_BASE + r"$"), 201),
    ("CreateSession", re.compile(_BASE + r"/[^/]+/sessions$"), 201),
    ("CreateAct", re.compile(_BASE + r"/[^/]+/sessions/[^/]+/acts$"), 201),
    ("InvokeActStep", re.compile(_BASE + r"/[^/]+/sessions/[^/]+/acts/[^/]+/invoke-step/?$"), 200),
    ("UpdateAct", re.compile(_BASE + r"/[^/]+/sessions/[^/]+/acts/[^/]+$"), 200),
    ("UpdateWorkflowRun", re.compile(_BASE + r"/[^/]+$"), 200),
)


@dataclass(frozen=True)
class Fault:
    """An error answer, as the service gives it (the SDK translates it by `code` and `reason`)."""

    status: int
    code: str
    message: str
    reason: str = ""


@dataclass(frozen=True)
class Delayed:
    """A turn the model takes its time over."""

    seconds: float
    calls: list[dict[str, Any]]


@dataclass
class Recorded:
    operation: str
    method: str
    path: str
    headers: dict[str, str]
    body: Any


def call(name: str, *args: Any) -> dict[str, Any]:
    """One call in a turn, as the model sends it (positional input)."""
    return {"callId": f"{name}-{uuid.uuid4().hex[:8]}", "name": name, "input": list(args)}


def observe() -> list[dict[str, Any]]:
    """What ends every turn that does not return: settle, then look again."""
    return [call("waitForPageToSettle"), call("takeObservation")]


def box(rect: dict[str, float]) -> str:
    """An element's bounding box (Playwright's x, y, width, height) as the model gives it."""
    top, left = int(rect["y"]) + 2, int(rect["x"]) + 2
    bottom, right = int(rect["y"] + rect["height"]) - 2, int(rect["x"] + rect["width"]) - 2
    return f"<box>{top},{left},{bottom},{right}</box>"


@dataclass
class FakeNovaActService:
    turns: deque[list[dict[str, Any]] | Delayed] = field(default_factory=deque)
    faults: dict[str, Fault] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "the fake service is not running"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def reset(
        self, *turns: list[dict[str, Any]] | Delayed, faults: dict[str, Fault] | None = None
    ) -> None:
        self.turns = deque(turns)
        self.faults = dict(faults or {})
        self.requests.clear()

    def calls_of(self, operation: str) -> list[Recorded]:
        return [r for r in self.requests if r.operation == operation]

    def start(self) -> FakeNovaActService:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_PUT(self) -> None:
                service._handle(self)

            def do_POST(self) -> None:
                service._handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeNovaActService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- answering ------------------------------------------------------------------------

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length) if length else b""
        path = request.path.split("?", 1)[0]
        headers = {k.lower(): v for k, v in request.headers.items()}
        if request.command == "POST" and b"Action=GetCallerIdentity" in raw:
            self.requests.append(
                Recorded("GetCallerIdentity", "POST", path, headers, parse_qs(raw))
            )
            body = STS_IDENTITY.format(id=uuid.uuid4()).encode()
            return _send(request, 200, body, "text/xml")
        operation, status = next(
            ((name, code) for name, pattern, code in OPERATIONS if pattern.match(path)),
            ("Unknown", 200),
        )
        body = json.loads(raw) if raw.strip() else {}
        self.requests.append(Recorded(operation, request.command, path, headers, body))
        fault = self.faults.get(operation)
        if fault is not None:
            return _send_fault(request, fault)
        answer = self._answer(operation)
        return _send(request, status, json.dumps(answer).encode(), "application/json")

    def _answer(self, operation: str) -> dict[str, Any]:
        if operation == "CreateWorkflowRun":
            return {"workflowRunId": str(uuid.uuid4()), "status": "RUNNING"}
        if operation == "CreateSession":
            return {"sessionId": str(uuid.uuid4())}
        if operation == "CreateAct":
            return {"actId": str(uuid.uuid4()), "status": "RUNNING"}
        if operation == "InvokeActStep":
            turn = self.turns.popleft() if self.turns else [call("throw", "no turns left")]
            if isinstance(turn, Delayed):
                time.sleep(turn.seconds)
                turn = turn.calls
            return {"calls": turn, "stepId": str(uuid.uuid4())}
        return {}


def _send(request: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str) -> None:
    request.send_response(status)
    request.send_header("Content-Type", content_type)
    request.send_header("Content-Length", str(len(body)))
    request.send_header("x-amzn-RequestId", str(uuid.uuid4()))
    request.end_headers()
    request.wfile.write(body)


def _send_fault(request: BaseHTTPRequestHandler, fault: Fault) -> None:
    payload: dict[str, Any] = {"message": fault.message}
    if fault.reason:
        payload["reason"] = fault.reason
    body = json.dumps(payload).encode()
    request.send_response(fault.status)
    request.send_header("Content-Type", "application/json")
    request.send_header("Content-Length", str(len(body)))
    request.send_header("x-amzn-ErrorType", fault.code)
    request.send_header("x-amzn-RequestId", str(uuid.uuid4()))
    request.end_headers()
    request.wfile.write(body)
