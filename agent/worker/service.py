"""`browser-agent run`: the activity worker. Polls while it has a free slot, runs each task,
drains on SIGTERM. The pieces live beside it: poller, lifecycle, shutdown, health, metrics."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from loguru import logger

from agent import runtime
from agent.aws import AwsClients, region_from_arn
from agent.browser import BrowserDriver
from agent.config import AgentSettings
from agent.errors import ConfigurationError, WorkerShutdown
from agent.secret_refs import secret_resolver
from agent.worker.answers import TaskAnswers, failure
from agent.worker.health import write_liveness
from agent.worker.lifecycle import ActivityTask, TaskRun, TaskServices
from agent.worker.metrics import TaskMetrics
from agent.worker.poller import ActivityPoller, Backoff
from agent.worker.shutdown import ShutdownRequest, drain, first_of
from agent.worker.templates import template_source

THREADS_PER_TASK = 4  # upload, heartbeat, answer, input binding
SPARE_THREADS = 4  # liveness file, spool resume and flush


@dataclass(frozen=True)
class WorkerOptions:
    activity_arn: str
    worker_name: str
    concurrency: int


def worker_options(
    settings: AgentSettings,
    activity_arn: str | None = None,
    worker_name: str | None = None,
    concurrency: int | None = None,
) -> WorkerOptions:
    arn = activity_arn or settings.activity_arn
    if not arn:
        raise ConfigurationError(
            "no activity to poll: set activity_arn (BROWSER_AGENT_ACTIVITY_ARN, --activity-arn, "
            "or `browser-agent setup`)"
        )
    return WorkerOptions(
        activity_arn=arn,
        worker_name=worker_name or settings.agent_name,
        concurrency=concurrency or settings.worker.concurrency,
    )


class ActivityWorker:
    def __init__(self, settings: AgentSettings, options: WorkerOptions) -> None:
        self.settings = settings
        self.options = options
        self.aws = AwsClients.for_settings(
            aws_region=settings.aws_region,
            activity_arn=options.activity_arn,
            profile=settings.aws_profile,
        )
        self.states: Any = self.aws.stepfunctions()
        self.answers = TaskAnswers(self.states)
        self.shutdown = ShutdownRequest(settings.worker.drain_seconds)
        self.slots = asyncio.Semaphore(options.concurrency)
        self.running: dict[asyncio.Task[None], TaskRun] = {}
        self.late_poll: asyncio.Task[None] | None = None
        self.poller = ActivityPoller(
            self.aws.activity_poller(),
            options.activity_arn,
            options.worker_name,
            Backoff(settings.worker.poll_backoff_seconds, settings.worker.poll_backoff_max_seconds),
        )

    async def run(self) -> None:
        """Serve until SIGTERM/SIGINT, then drain and return (the process exits 0)."""
        # Each running task may hold a thread for its upload, one for a heartbeat, one for an
        # answer and one for binding its input: the default pool (CPUs + 4) would let long
        # uploads on a small machine starve heartbeats into a HeartbeatTimeout.
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(
                max_workers=THREADS_PER_TASK * self.options.concurrency + SPARE_THREADS,
                thread_name_prefix="worker",
            )
        )
        self._warn_on_region_mismatch()
        spool = runtime.upload_spool(self.settings)  # None without a bucket
        if spool is not None:
            resumed = await asyncio.to_thread(spool.resume)
            logger.info("upload spool: {} pending session(s) resumed", resumed)
        self.shutdown.install()
        try:
            async with runtime.browser_driver(self.settings) as driver:
                health = asyncio.create_task(self._write_liveness(driver))
                logger.info(
                    "worker {} polling {} with {} slot(s)",
                    self.options.worker_name,
                    self.options.activity_arn,
                    self.options.concurrency,
                )
                await self._serve(self._services(driver))
                await drain(self.running, self.late_poll, self.shutdown)
                health.cancel()
                # A stopped worker must not look alive to `browser-agent healthcheck`.
                self.settings.worker.health_file.unlink(missing_ok=True)
        finally:
            self.shutdown.uninstall()
        if spool is not None:
            budget = max(5.0, self.shutdown.remaining_s())
            await asyncio.to_thread(spool.flush, budget)
        logger.info("worker stopped")

    def _services(self, driver: BrowserDriver) -> TaskServices:
        return TaskServices(
            settings=self.settings,
            driver=driver,
            states=self.states,
            answers=self.answers,
            templates=template_source(self.settings.worker.template_source, self.aws),
            resolve_secret=secret_resolver(self.aws),
            metrics=TaskMetrics(self.settings.env, self.settings.agent_name),
        )

    async def _serve(self, services: TaskServices) -> None:
        while not self.shutdown.requested:
            await first_of(self.slots.acquire(), self.shutdown.event.wait())
            if self.shutdown.requested:
                break  # a slot taken in the same instant is never used: the process is ending
            poll = self.poller.start_poll()
            await first_of(poll, self.shutdown.event.wait())
            if not poll.done():
                self.late_poll = asyncio.create_task(self._refuse_late_task(poll))
                break
            outcome = self.poller.task_from(poll)
            if isinstance(outcome, ActivityTask):
                self._start(TaskRun(outcome, services))
                continue
            self.slots.release()
            if isinstance(outcome, float):
                await first_of(asyncio.sleep(outcome), self.shutdown.event.wait())

    def _start(self, run: TaskRun) -> None:
        task = asyncio.create_task(run.run())
        self.running[task] = run

        def finished(done: asyncio.Task[None]) -> None:
            self.running.pop(done, None)
            self.slots.release()

        task.add_done_callback(finished)

    async def _refuse_late_task(self, poll: asyncio.Future[Any]) -> None:
        """A task handed over by a poll that was in flight when the drain began."""
        await asyncio.wait({poll})
        outcome = self.poller.task_from(poll)
        if isinstance(outcome, ActivityTask):
            with logger.contextualize(task_id=outcome.task_id):
                logger.warning("task arrived while draining: failing it at once")
                await self.answers.fail(
                    outcome.token,
                    failure(WorkerShutdown.code, "the worker was shutting down when it arrived"),
                )

    async def _write_liveness(self, driver: BrowserDriver) -> None:
        worker = self.settings.worker
        while True:
            state = {
                "state": "draining" if self.shutdown.requested else "serving",
                "running": len(self.running),
                "browser_connected": driver.is_connected(),
                "worker": self.options.worker_name,
            }
            try:
                await asyncio.to_thread(write_liveness, worker.health_file, state)
            except OSError as exc:
                logger.warning("cannot write the liveness file {}: {}", worker.health_file, exc)
            await asyncio.sleep(worker.health_interval_seconds)

    def _warn_on_region_mismatch(self) -> None:
        arn_region = region_from_arn(self.options.activity_arn)
        client_region = self.states.meta.region_name
        if arn_region and client_region and arn_region != client_region:
            logger.warning(
                "aws_region is {} but the activity ARN is in {}: polling will fail",
                client_region,
                arn_region,
            )
