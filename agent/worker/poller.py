"""GetActivityTask: one long poll at a time, backing off with jitter on errors, with a hint
for each kind of error an operator can fix."""

from __future__ import annotations

import asyncio
import random
import threading
from typing import Any

from botocore.exceptions import (
    ClientError,
    ConnectionError,
    NoCredentialsError,
    NoRegionError,
    ReadTimeoutError,
)
from loguru import logger

from agent.aws import STATES_READ_TIMEOUT_S, error_code, region_from_arn
from agent.worker.lifecycle import ActivityTask


class Backoff:
    """Exponential backoff with full jitter: a random wait up to base * 2^failures, capped."""

    def __init__(self, base_s: float, cap_s: float, rng: random.Random | None = None) -> None:
        self.base_s = base_s
        self.cap_s = cap_s
        self.failures = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        ceiling = min(self.cap_s, self.base_s * 2**self.failures)
        self.failures += 1
        return self._rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.failures = 0


def poll_error_hint(exc: BaseException, activity_arn: str, client_region: str | None) -> str:
    """What to check, for the errors an operator can do something about."""
    code = error_code(exc) if isinstance(exc, ClientError) else ""
    arn_region = region_from_arn(activity_arn)
    if isinstance(exc, NoCredentialsError):
        return "no AWS credentials: run with a task/instance role, AWS_PROFILE or AWS_* variables"
    if isinstance(exc, NoRegionError):
        return "no region: set aws_region or use a full activity ARN"
    if code in {"AccessDeniedException", "AccessDenied"}:
        return f"the role needs states:GetActivityTask on {activity_arn}"
    if code == "ActivityDoesNotExist":
        where = ""
        if arn_region and client_region and arn_region != client_region:
            where = f"; the client uses region {client_region} but the ARN is in {arn_region}"
        return f"no such activity: check activity_arn{where}"
    if code in {"ThrottlingException", "TooManyRequestsException"}:
        return "throttled by Step Functions: too many pollers for the account's quota"
    if code in {"UnrecognizedClientException", "InvalidClientTokenId", "ExpiredTokenException"}:
        return "the credentials are not valid here (wrong account/partition, or expired)"
    if code == "InvalidArn":
        return f"activity_arn {activity_arn!r} is not a valid activity ARN"
    if isinstance(exc, ConnectionError):
        return "cannot reach Step Functions: check networking (NAT or VPC endpoint) and proxy"
    if isinstance(exc, ReadTimeoutError):
        return (
            f"no answer within {STATES_READ_TIMEOUT_S} s to a 60 s long poll: check the network "
            "path; a task handed out in the lost answer is retried or failed by Step Functions "
            "only after its HeartbeatSeconds (or TimeoutSeconds)"
        )
    return "unexpected error; see the message"


def _poll_in_daemon_thread(client: Any, **params: str) -> asyncio.Future[Any]:
    """Run the blocking long poll in a daemon thread, so a poll still in flight when the drain
    ends does not hold the process open (a thread pool would be joined at exit)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def settle(outcome: Any, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(outcome)

    def poll() -> None:
        try:
            outcome = client.get_activity_task(**params)
        except BaseException as exc:
            loop.call_soon_threadsafe(settle, None, exc)
        else:
            loop.call_soon_threadsafe(settle, outcome, None)

    threading.Thread(target=poll, name="get-activity-task", daemon=True).start()
    return future


class ActivityPoller:
    def __init__(self, states: Any, activity_arn: str, worker_name: str, backoff: Backoff) -> None:
        self.states = states
        self.activity_arn = activity_arn
        self.worker_name = worker_name
        self.backoff = backoff

    def start_poll(self) -> asyncio.Future[Any]:
        return _poll_in_daemon_thread(
            self.states, activityArn=self.activity_arn, workerName=self.worker_name[:80]
        )

    def task_from(self, poll: asyncio.Future[Any]) -> ActivityTask | float | None:
        """The task a finished poll returned; None when it came back empty; else (on an
        error) how long to wait before polling again."""
        try:
            response = poll.result()
        except Exception as exc:  # any failed poll backs off; the loop must keep going
            delay = self.backoff.next_delay()
            region = self.states.meta.region_name
            logger.warning(
                "GetActivityTask failed ({}); retrying in {:.1f} s. Hint: {}",
                exc,
                delay,
                poll_error_hint(exc, self.activity_arn, region),
            )
            return delay
        self.backoff.reset()
        token = response.get("taskToken")
        if not token:
            return None
        return ActivityTask(token=token, input=response.get("input", ""))
