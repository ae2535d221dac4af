"""Liveness for ECS: the worker rewrites a small JSON file on an interval;
`browser-agent healthcheck` says healthy while that file is fresh."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Health:
    healthy: bool
    reason: str


def write_liveness(path: Path, state: dict[str, Any]) -> None:
    """Written to a temporary name and renamed, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(json.dumps({"time": time.time(), "pid": os.getpid(), **state}))
    partial.replace(path)


def check_liveness(path: Path, max_age_s: float, now: float | None = None) -> Health:
    try:
        state = json.loads(path.read_text())
        written = float(state["time"])
    except FileNotFoundError:
        return Health(False, f"no liveness file at {path}: is `browser-agent run` running?")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return Health(False, f"unreadable liveness file {path}: {exc}")
    age = (now if now is not None else time.time()) - written
    if age > max_age_s:
        return Health(False, f"liveness file {path} is {age:.0f} s old (limit {max_age_s:.0f} s)")
    details = ", ".join(f"{k}={v}" for k, v in state.items() if k not in {"time", "pid"})
    return Health(True, f"alive {age:.1f} s ago ({details})")
