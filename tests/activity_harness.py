"""Helpers for worker tests: a Step Functions activity and state machine on LocalStack, and
`browser-agent run` as a real process."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import boto3
from conftest import browser_agent_executable, clean_environment
from localstack import aws_env

ROLE_ARN = "arn:aws:iam::000000000000:role/browser-agent-test"


class StepFunctions:
    """One activity and one state machine with a single activity task state."""

    def __init__(self, endpoint: str, *, heartbeat_s: int, timeout_s: int = 120) -> None:
        self.client: Any = boto3.client(
            "stepfunctions",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        suffix = uuid.uuid4().hex[:10]
        self.activity_arn: str = self.client.create_activity(name=f"browse-{suffix}")["activityArn"]
        definition = {
            "StartAt": "Browse",
            "States": {
                "Browse": {
                    "Type": "Task",
                    "Resource": self.activity_arn,
                    "HeartbeatSeconds": heartbeat_s,
                    "TimeoutSeconds": timeout_s,
                    "End": True,
                }
            },
        }
        self.state_machine_arn: str = self.client.create_state_machine(
            name=f"browse-{suffix}", definition=json.dumps(definition), roleArn=ROLE_ARN
        )["stateMachineArn"]

    def start(self, task_input: Any) -> str:
        text = task_input if isinstance(task_input, str) else json.dumps(task_input)
        return str(
            self.client.start_execution(
                stateMachineArn=self.state_machine_arn, name=uuid.uuid4().hex, input=text
            )["executionArn"]
        )

    def describe(self, execution_arn: str) -> dict[str, Any]:
        return dict(self.client.describe_execution(executionArn=execution_arn))

    def wait_until_ended(self, execution_arn: str, timeout_s: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            described = self.describe(execution_arn)
            if described["status"] != "RUNNING":
                return described
            if time.monotonic() > deadline:
                raise AssertionError(f"{execution_arn} still RUNNING after {timeout_s} s")
            time.sleep(0.2)

    def wait_for_event(self, execution_arn: str, event_type: str, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while event_type not in self.event_types(execution_arn):
            if time.monotonic() > deadline:
                raise AssertionError(f"no {event_type} in {execution_arn} after {timeout_s} s")
            time.sleep(0.1)

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
        while True:
            page = self.client.get_execution_history(**kwargs)
            events.extend(page["events"])
            if not page.get("nextToken"):
                return events
            kwargs["nextToken"] = page["nextToken"]

    def event_types(self, execution_arn: str) -> list[str]:
        return [event["type"] for event in self.history(execution_arn)]

    def failure(self, execution_arn: str) -> tuple[str, dict[str, Any]]:
        """The error code and decoded cause of a FAILED execution's activity."""
        for event in self.history(execution_arn):
            details = event.get("activityFailedEventDetails")
            if details:
                return details.get("error", ""), json.loads(details.get("cause") or "{}")
        described = self.describe(execution_arn)
        return described.get("error", ""), {"cause": described.get("cause")}


class WorkerProcess:
    """`browser-agent run` in its own folder; logs on stderr, EMF metrics on stdout."""

    def __init__(
        self,
        endpoint: str,
        activity_arn: str,
        folder: Path,
        *,
        settings: Mapping[str, str] | None = None,
        args: tuple[str, ...] = (),
    ) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.spool_dir = folder / "spool"
        self.health_file = folder / "health.json"
        self.stderr_path = folder / "worker.log"
        self.stdout_path = folder / "metrics.log"
        env = clean_environment(
            {
                **aws_env(endpoint),
                "BROWSER_AGENT_ACTIVITY_ARN": activity_arn,
                "BROWSER_AGENT_SPOOL_DIR": str(self.spool_dir),
                "BROWSER_AGENT_LOG__FORMAT": "json",
                "BROWSER_AGENT_WORKER__HEALTH_FILE": str(self.health_file),
                "BROWSER_AGENT_WORKER__HEALTH_INTERVAL_SECONDS": "0.5",
                "BROWSER_AGENT_WORKER__POLL_BACKOFF_SECONDS": "0.2",
                "BROWSER_AGENT_WORKER__POLL_BACKOFF_MAX_SECONDS": "1",
                **(settings or {}),
            }
        )
        with self.stderr_path.open("wb") as err, self.stdout_path.open("wb") as out:
            self.process = subprocess.Popen(
                [str(browser_agent_executable()), "run", *args],
                cwd=folder,
                env=env,
                stdout=out,
                stderr=err,
            )

    def wait_until_serving(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while not self.health_file.exists():
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited with {self.process.returncode}:\n{self.log}")
            if time.monotonic() > deadline:
                raise AssertionError(f"worker not serving after {timeout_s} s:\n{self.log}")
            time.sleep(0.1)

    def stop(self, timeout_s: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"worker did not exit {timeout_s} s after SIGTERM") from None

    @property
    def log(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def log_records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.splitlines() if line.startswith("{")]

    def metrics(self) -> list[dict[str, Any]]:
        text = self.stdout_path.read_text()
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def descendants(pid: int) -> list[tuple[int, str]]:
    """Every process below `pid`, with its command line, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found: list[tuple[int, str]] = []
    queue = list(children.get(pid, []))
    while queue:
        child = queue.pop()
        try:
            cmdline = (Path("/proc") / str(child) / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        found.append((child, cmdline.decode(errors="replace")))
        queue.extend(children.get(child, []))
    return found


def browser_processes(worker_pid: int) -> tuple[list[int], list[int]]:
    """(browser main processes, renderer processes) of a worker's Chromium."""
    chromium = [(p, c) for p, c in descendants(worker_pid) if "chrom" in c.split(" ", 1)[0]]
    main = [p for p, c in chromium if "--type=" not in c]
    renderers = [p for p, c in chromium if "--type=renderer" in c]
    return main, renderers
