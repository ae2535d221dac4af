"""`browser-agent demo`: every bundled example at every recording level, into a local folder."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from agent.config import AgentSettings
from agent.demo.site import DemoSite
from agent.levels import LevelChoice, RecordingLevel
from agent.resources import examples_dir
from agent.result import RunResult
from agent.runtime import browser_driver, script_executor
from agent.script import bind, load_script_file


@dataclass
class LevelRow:
    level: RecordingLevel
    folder: Path
    sessions: int = 0
    artifacts: int = 0
    bytes: int = 0
    runs: int = 0
    failed: int = 0


def demo_variables(site: DemoSite) -> dict[str, str]:
    """What the examples need to run against the bundled site."""
    return {"base_url": site.url, "username": DemoSite.USERNAME, "password": DemoSite.PASSWORD}


def example_scripts() -> list[Path]:
    return sorted(examples_dir().glob("*.json"))


async def run_demo(
    settings: AgentSettings, out: Path, levels: list[RecordingLevel]
) -> list[LevelRow]:
    rows = []
    with DemoSite() as site:
        async with browser_driver(settings) as driver:
            for level in levels:
                row = LevelRow(level, out / level.name.lower())
                shutil.rmtree(row.folder, ignore_errors=True)  # the table shows this run only
                executor = script_executor(settings, driver, spool_dir=row.folder)
                for path in example_scripts():
                    script = load_script_file(path)
                    given = {k: v for k, v in demo_variables(site).items() if k in script.variables}
                    result = await executor.run(
                        bind(script, given), LevelChoice(level, "browser-agent demo")
                    )
                    _count(row, result)
                rows.append(row)
    return rows


def _count(row: LevelRow, result: RunResult) -> None:
    row.runs += 1
    row.failed += 0 if result.success else 1
    if result.recording.artifacts:
        row.sessions += 1
        row.artifacts += result.recording.artifacts
        row.bytes += result.recording.bytes
