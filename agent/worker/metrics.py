"""Task metrics as CloudWatch Embedded Metric Format (EMF) JSON lines on stdout.

Hand-written rather than through aws-embedded-metrics: that library picks its sink by probing
the environment (on ECS it sends to a CloudWatch agent on port 25888 unless told otherwise),
and one JSON line per task is all the worker needs. Logs go to stderr, so stdout carries only
these lines; the awslogs driver forwards them and CloudWatch extracts the metrics.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any, TextIO

NAMESPACE = "BrowserAgent"


class TaskMetrics:
    def __init__(self, env: str, agent_name: str, stream: TextIO | None = None) -> None:
        self.env = env
        self.agent_name = agent_name
        self.stream = stream or sys.stdout
        self._lock = threading.Lock()

    def task_finished(
        self,
        *,
        outcome: str,
        error_code: str | None,
        level: str,
        duration_ms: float,
        recording_bytes: int,
        task_id: str,
        session_id: str | None,
    ) -> None:
        """One record: Tasks, TaskFailures, TaskDuration (ms) and RecordingBytes, by level."""
        record: dict[str, Any] = {
            "_aws": {
                "Timestamp": int(time.time() * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": NAMESPACE,
                        "Dimensions": [["Environment"], ["Environment", "Level"]],
                        "Metrics": [
                            {"Name": "Tasks", "Unit": "Count"},
                            {"Name": "TaskFailures", "Unit": "Count"},
                            {"Name": "TaskDuration", "Unit": "Milliseconds"},
                            {"Name": "RecordingBytes", "Unit": "Bytes"},
                        ],
                    }
                ],
            },
            "Environment": self.env,
            "Level": level,
            "Tasks": 1,
            "TaskFailures": 0 if outcome == "succeeded" else 1,
            "TaskDuration": round(duration_ms, 1),
            "RecordingBytes": recording_bytes,
            # Properties (searchable in Logs Insights, not metric dimensions):
            "agent_name": self.agent_name,
            "outcome": outcome,
            "error_code": error_code,
            "task_id": task_id,
            "session_id": session_id,
        }
        line = json.dumps(record, separators=(",", ":"))
        with self._lock:
            self.stream.write(line + "\n")
            self.stream.flush()
