"""What one environment's stack is made of: typed, validated, read from the CDK context.

Every knob is a context value (`cdk deploy -c env=prod -c recording_level=ERROR …`, or the
"context" of cdk.json). Context values given with `-c` are strings; each is converted and checked
here, and a bad one stops the synth with its key named.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import aws_logs as logs

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
RECORDING_LEVELS = ("NONE", "ERROR", "INFO", "DEBUG", "TRACE")
ENVIRONMENTS = ("dev", "staging", "prod")
NOVA_ACT_WORKFLOW = re.compile(r"[A-Za-z0-9_-]{1,40}")
# The same per-environment defaults as settings.toml's [dev], [staging], [prod] sections.
DEFAULT_LEVEL = {"dev": "TRACE", "staging": "DEBUG", "prod": "INFO"}
# CloudWatch Logs accepts only these retention periods (days -> aws_logs.RetentionDays).
LOG_RETENTION = {
    1: "ONE_DAY", 3: "THREE_DAYS", 5: "FIVE_DAYS", 7: "ONE_WEEK", 14: "TWO_WEEKS",
    30: "ONE_MONTH", 60: "TWO_MONTHS", 90: "THREE_MONTHS", 120: "FOUR_MONTHS",
    150: "FIVE_MONTHS", 180: "SIX_MONTHS", 365: "ONE_YEAR", 400: "THIRTEEN_MONTHS",
    545: "EIGHTEEN_MONTHS", 731: "TWO_YEARS", 1096: "THREE_YEARS", 1827: "FIVE_YEARS",
    2192: "SIX_YEARS", 2557: "SEVEN_YEARS", 2922: "EIGHT_YEARS", 3288: "NINE_YEARS",
    3653: "TEN_YEARS",
}  # fmt: skip
# Fargate CPU units and the memory (MiB) each allows.
FARGATE_MEMORY = {
    256: range(512, 2049, 512),
    512: range(1024, 4097, 1024),
    1024: range(2048, 8193, 1024),
    2048: range(4096, 16385, 1024),
    4096: range(8192, 30721, 1024),
}


class ContextError(ValueError):
    """A context value the stack cannot be built with; the message names the key."""


@dataclass(frozen=True)
class ImageSource:
    """Where the agent's container image comes from; exactly one way.

    - `repository` (+ `tag`): an ECR repository of this account and region;
    - `uri`: any registry the task can pull from (`registry/name:tag`);
    - `asset_directory`: build the repository's Dockerfile at deploy time (`cdk deploy` needs
      Docker then; the synth only stages the folder).
    """

    repository: str = "browser-agent"
    tag: str = "latest"
    uri: str = ""
    asset_directory: str = ""


@dataclass(frozen=True)
class AgentStackProps:
    env_name: str
    recording_level: str
    image: ImageSource = ImageSource()
    activity_name: str = ""  # empty: browser-agent-{env}
    bucket_name: str = ""  # empty: browser-agent-recordings-{env}-{account}
    kms: bool = False  # a customer-managed KMS key instead of S3-managed encryption
    expiry_days: int = 90
    trace_expiry_days: int = 7
    abort_multipart_days: int = 3
    access_log_expiry_days: int = 365
    log_retention_days: int = 30
    cpu: int = 1024
    memory_mib: int = 2048
    worker_concurrency: int = 1
    min_tasks: int = 0  # 0: scale to zero when idle
    max_tasks: int = 4
    idle_minutes: int = 20  # scale to zero after this long with no task scheduled or started
    stop_timeout_seconds: int = 120
    heartbeat_seconds: int = 60  # the example state machine's HeartbeatSeconds
    task_timeout_seconds: int = 900  # the example state machine's TimeoutSeconds
    vpc_id: str = ""  # empty: a new VPC with public subnets only (no NAT gateway)
    legacy_user: bool = False  # the seed's IAM user with its key in Secrets Manager
    # An existing Nova Act workflow definition (`aws nova-act create-workflow-definition`):
    # set, the agent may run act steps in it with its own role; empty, no Nova Act at all.
    nova_act_workflow: str = ""
    nova_act_region: str = "us-east-1"  # where Nova Act runs (not necessarily the stack's)

    def __post_init__(self) -> None:
        _check(self.env_name in ENVIRONMENTS, "env", f"one of {', '.join(ENVIRONMENTS)}")
        _check(
            self.recording_level in RECORDING_LEVELS,
            "recording_level",
            f"one of {', '.join(RECORDING_LEVELS)}",
        )
        _check(
            0 < self.trace_expiry_days < self.expiry_days,
            "trace_expiry_days",
            f"between 1 and expiry_days - 1 ({self.expiry_days - 1})",
        )
        _check(self.abort_multipart_days >= 1, "abort_multipart_days", "at least 1")
        _check(self.access_log_expiry_days >= 1, "access_log_expiry_days", "at least 1")
        _check(
            self.log_retention_days in LOG_RETENTION,
            "log_retention_days",
            f"one of CloudWatch Logs' periods ({', '.join(map(str, LOG_RETENTION))})",
        )
        _check(
            self.memory_mib in FARGATE_MEMORY.get(self.cpu, ()),
            "memory_mib",
            f"a Fargate size for cpu {self.cpu} (cpu 256/512/1024/2048/4096 with its memory)",
        )
        _check(self.worker_concurrency >= 1, "worker_concurrency", "at least 1")
        _check(self.max_tasks >= 1, "max_tasks", "at least 1")
        _check(0 <= self.min_tasks <= self.max_tasks, "min_tasks", "between 0 and max_tasks")
        _check(
            self.idle_minutes * 60 > self.task_timeout_seconds,
            "idle_minutes",
            f"longer than task_timeout_seconds ({self.task_timeout_seconds} s), so scale-in "
            "never stops a task that is still allowed to run",
        )
        _check(
            self.stop_timeout_seconds <= 120 and self.stop_timeout_seconds >= 30,
            "stop_timeout_seconds",
            "between 30 and 120 (ECS's maximum on Fargate)",
        )
        _check(
            not self.nova_act_workflow or bool(NOVA_ACT_WORKFLOW.fullmatch(self.nova_act_workflow)),
            "nova_act_workflow",
            "a workflow definition name: 1 to 40 of A-Z, a-z, 0-9, _ and -",
        )
        _check(
            self.task_timeout_seconds > self.heartbeat_seconds >= 30,
            "heartbeat_seconds",
            "at least 30 (the worker heartbeats every 20 s) and below task_timeout_seconds",
        )

    @property
    def log_retention(self) -> logs.RetentionDays:
        return logs.RetentionDays[LOG_RETENTION[self.log_retention_days]]

    @property
    def activity(self) -> str:
        return self.activity_name or f"browser-agent-{self.env_name}"

    @property
    def records(self) -> bool:
        """False at level NONE: the agent then keeps nothing and gets no S3 permission."""
        return self.recording_level != "NONE"

    @property
    def drain_seconds(self) -> int:
        """The worker's drain on SIGTERM: it needs up to 15 s more to stop overdue tasks and
        flush the spool (docs/worker.md), plus a margin, inside the stop timeout."""
        return self.stop_timeout_seconds - 20

    @property
    def nova_act(self) -> bool:
        return bool(self.nova_act_workflow)

    @property
    def parameter_prefix(self) -> str:
        """Where `browser-agent setup --env ENV` looks (agent/discovery.py)."""
        return f"/browser-agent/{self.env_name}"


def _check(ok: bool, key: str, expected: str) -> None:
    if not ok:
        raise ContextError(f"context value {key!r}: expected {expected}")


def _text(value: Any) -> str:
    return str(value).strip()


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off", ""):
        return False
    raise ValueError(f"{value!r} is not true or false")


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a whole number")
    return int(_text(value))


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "activity_name": _text,
    "bucket_name": _text,
    "kms": _flag,
    "expiry_days": _int,
    "trace_expiry_days": _int,
    "abort_multipart_days": _int,
    "access_log_expiry_days": _int,
    "log_retention_days": _int,
    "cpu": _int,
    "memory_mib": _int,
    "worker_concurrency": _int,
    "min_tasks": _int,
    "max_tasks": _int,
    "idle_minutes": _int,
    "heartbeat_seconds": _int,
    "task_timeout_seconds": _int,
    "vpc_id": _text,
    "legacy_user": _flag,
    "nova_act_workflow": _text,
    "nova_act_region": _text,
}
_IMAGE_KEYS = {
    "image_repository": "repository",
    "image_tag": "tag",
    "image_uri": "uri",
    "image_asset": "asset_directory",
}


def props_from_context(get: Callable[[str], Any]) -> AgentStackProps:
    """Build the props from context values; `get(key)` returns None for an unset key."""
    env_name = _text(get("env") or "dev")
    if env_name not in ENVIRONMENTS:
        raise ContextError(f"context value 'env': expected one of {', '.join(ENVIRONMENTS)}")
    level = _text(get("recording_level") or DEFAULT_LEVEL[env_name]).upper()
    values: dict[str, Any] = {}
    for key, convert in _CONVERTERS.items():
        raw = get(key)
        if raw is None:
            continue
        try:
            values[key] = convert(raw)
        except ValueError as exc:
            raise ContextError(f"context value {key!r}: {exc}") from None
    image = {field: _text(get(key)) for key, field in _IMAGE_KEYS.items() if get(key) is not None}
    if image.get("asset_directory", "").lower() in ("true", "1", "yes"):
        image["asset_directory"] = str(REPOSITORY_ROOT)  # where the Dockerfile is
    return AgentStackProps(
        env_name=env_name, recording_level=level, image=ImageSource(**image), **values
    )


def props_from_mapping(context: Mapping[str, Any]) -> AgentStackProps:
    return props_from_context(context.get)
