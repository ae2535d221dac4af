"""SIGTERM / SIGINT: stop polling, let running tasks finish within the drain time, then stop
the rest (they answer BrowserAgent.WorkerShutdown so Step Functions can retry at once)."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Awaitable

from loguru import logger

from agent.worker.lifecycle import STOP_GRACE_S, TaskRun

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class ShutdownRequest:
    """Set by the first SIGTERM or SIGINT; later signals only log."""

    def __init__(self, drain_s: float) -> None:
        self.drain_s = drain_s
        self.event = asyncio.Event()
        self.deadline: float | None = None

    @property
    def requested(self) -> bool:
        return self.event.is_set()

    def install(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in SIGNALS:
            loop.add_signal_handler(sig, self.request, sig.name)

    def uninstall(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in SIGNALS:
            loop.remove_signal_handler(sig)

    def request(self, reason: str) -> None:
        if self.requested:
            logger.warning("{} while draining: already stopping", reason)
            return
        self.deadline = time.monotonic() + self.drain_s
        logger.warning(
            "{}: no more polling; running tasks get {:g} s to finish", reason, self.drain_s
        )
        self.event.set()

    def remaining_s(self) -> float:
        if self.deadline is None:
            return self.drain_s
        return max(0.0, self.deadline - time.monotonic())


async def first_of(*waitables: Awaitable[object]) -> None:
    """Wait until any of them finishes; the others keep running (or are cancelled if they were
    created here only to be waited on)."""
    futures = [asyncio.ensure_future(w) for w in waitables]
    await asyncio.wait(futures, return_when=asyncio.FIRST_COMPLETED)
    for future, waitable in zip(futures, waitables, strict=True):
        if future is not waitable and not future.done():
            future.cancel()


async def drain(
    running: dict[asyncio.Task[None], TaskRun],
    late_poll: asyncio.Task[None] | None,
    shutdown: ShutdownRequest,
) -> None:
    pending: set[asyncio.Task[None]] = set(running)
    if late_poll is not None:
        pending.add(late_poll)
    if pending:
        logger.info("draining: {} task(s) running", len(running))
        _, pending = await asyncio.wait(pending, timeout=shutdown.remaining_s())
    overdue = {task for task in pending if task in running}
    for task in overdue:
        running[task].stop_for_shutdown()
    if overdue:
        logger.warning("drain time over: stopping {} task(s) with WorkerShutdown", len(overdue))
        await asyncio.wait(overdue, timeout=STOP_GRACE_S + 5)
    if late_poll is not None and not late_poll.done():
        logger.warning(
            "a GetActivityTask poll is still open; a task it returns now will time out on its "
            "HeartbeatSeconds and be retried"
        )
