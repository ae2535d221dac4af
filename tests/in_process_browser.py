"""One real headless Chromium on its own event loop, shared by a module's in-process runs of
the executor (tests that look inside a run rather than at the CLI)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from agent.browser import BrowserDriver, BrowserOptions
from agent.executor import ExecutorSettings, ScriptExecutor
from agent.levels import LevelChoice, RecordingLevel
from agent.nova import NovaActRunner
from agent.result import RunResult
from agent.script import bind, parse_script
from agent.storage import LocalFolderStore

T = TypeVar("T")
B = TypeVar("B", bound="InProcessBrowser")


class InProcessBrowser:
    # ExecutorSettings fields a module wants for every run (beyond the spool folder).
    executor_settings: ClassVar[dict[str, Any]] = {}

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.driver = BrowserDriver(BrowserOptions())

    def run_coroutine(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coroutine)

    def executor(self, spool: Path, nova: NovaActRunner | None = None) -> ScriptExecutor:
        settings = ExecutorSettings(spool_dir=spool, **self.executor_settings)
        return ScriptExecutor(self.driver, LocalFolderStore(spool), settings, nova=nova)

    def run(
        self,
        data: dict[str, Any],
        spool: Path,
        nova: NovaActRunner | None = None,
        *,
        level: RecordingLevel = RecordingLevel.INFO,
        variables: dict[str, Any] | None = None,
    ) -> RunResult:
        bound = bind(parse_script(data), variables or {})
        return self.run_coroutine(self.executor(spool, nova).run(bound, LevelChoice(level, "test")))


def started(browser: B) -> Iterator[B]:
    """For a module-scoped fixture: `yield from started(InProcessBrowser())`."""
    browser.run_coroutine(browser.driver.start())
    try:
        yield browser
    finally:
        browser.run_coroutine(browser.driver.close())
        browser.loop.close()
