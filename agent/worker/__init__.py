"""The Step Functions activity worker behind `browser-agent run` (spec sections 3 and 7)."""

from agent.worker.health import Health, check_liveness
from agent.worker.service import ActivityWorker, WorkerOptions, worker_options

__all__ = ["ActivityWorker", "Health", "WorkerOptions", "check_liveness", "worker_options"]
