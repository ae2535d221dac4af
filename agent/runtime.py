"""Putting the parts together from settings: browser driver, store, executor."""

from __future__ import annotations

from pathlib import Path

from agent.browser import BrowserDriver, BrowserOptions
from agent.config import AgentSettings
from agent.executor import ExecutorSettings, ScriptExecutor
from agent.storage import ArtifactStore, LocalFolderStore


def browser_driver(settings: AgentSettings) -> BrowserDriver:
    return BrowserDriver(
        BrowserOptions(executable_path=settings.browser_executable_path, headless=settings.headless)
    )


def artifact_store(settings: AgentSettings, spool_dir: Path) -> ArtifactStore:
    return LocalFolderStore(spool_dir)


def script_executor(
    settings: AgentSettings, driver: BrowserDriver, spool_dir: Path | None = None
) -> ScriptExecutor:
    spool = spool_dir or settings.spool_dir
    return ScriptExecutor(
        driver,
        artifact_store(settings, spool),
        ExecutorSettings(
            spool_dir=spool,
            env=settings.env,
            agent_name=settings.agent_name,
            step_timeout_ms=settings.step_timeout_ms,
            navigation_timeout_ms=settings.navigation_timeout_ms,
            ring_size=settings.ring_size,
        ),
    )
