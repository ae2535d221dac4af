"""The shared browser as one task sees it: the task's contexts can be closed to stop its work."""

from __future__ import annotations

from loguru import logger
from playwright.async_api import BrowserContext
from playwright.async_api import Error as PlaywrightError

from agent.browser import BrowserDriver, ContextOptions


class TaskBrowser(BrowserDriver):
    """Delegates to the worker's one BrowserDriver and remembers the contexts it opened.

    Closing them makes the running step fail at once, so the executor still finishes the
    session and hands its recording to the store; cancelling the coroutine would lose it.
    """

    def __init__(self, shared: BrowserDriver) -> None:
        super().__init__(shared.options)
        self.shared = shared
        self.contexts: list[BrowserContext] = []

    async def start(self) -> None:
        await self.shared.start()

    async def close(self) -> None:
        """The shared browser outlives the task; only this task's contexts close."""
        await self.close_contexts()

    async def new_context(self, options: ContextOptions) -> BrowserContext:
        context = await self.shared.new_context(options)
        self.contexts.append(context)
        return context

    def is_connected(self) -> bool:
        return self.shared.is_connected()

    @property
    def browser_pid(self) -> int | None:
        return self.shared.browser_pid

    async def close_contexts(self) -> None:
        for context in self.contexts:
            try:
                await context.close()
            except PlaywrightError as exc:
                logger.debug("closing a task context failed: {}", exc)
