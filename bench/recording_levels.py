"""What each recording level costs: wall time per session and bytes kept, side by side.

Runs every bundled example against the bundled demo site at every level, interleaving the
levels round by round (the order rotates each round) so that a noisy, shared machine slows
all levels alike. For each script, the median time at a level is divided by the same script's
median at NONE; the table gives the geometric mean of those ratios, and the bytes kept per
session on success and on failure. Writes the table into docs/benchmarks.md between this
benchmark's markers.

    .venv/bin/python bench/recording_levels.py --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from report import write_section  # bench/report.py, beside this file

from agent.config import load_settings
from agent.demo.runner import demo_variables, example_scripts
from agent.demo.site import DemoSite
from agent.levels import LevelChoice, RecordingLevel
from agent.logs import configure_logging
from agent.runtime import browser_driver, script_executor
from agent.script import bind, load_script_file

NAME = "recording-levels"
COMMAND = ".venv/bin/python bench/recording_levels.py --rounds {rounds}"


Timings = dict[tuple[RecordingLevel, str], list[float]]


async def measure(rounds: int) -> tuple[Timings, dict[str, list[int]]]:
    settings = load_settings(env="dev")
    levels = list(RecordingLevel)
    seconds: Timings = defaultdict(list)
    kept: dict[str, list[int]] = defaultdict(list)  # "LEVEL ok" / "LEVEL failed" -> bytes
    scripts = [load_script_file(p) for p in example_scripts()]
    with DemoSite() as site, tempfile.TemporaryDirectory() as out:
        async with browser_driver(settings) as driver:
            executor = script_executor(settings, driver, spool_dir=Path(out))
            for round_no in range(rounds + 1):  # round 0 warms the browser and caches up
                shift = round_no % len(levels)
                for level in levels[shift:] + levels[:shift]:
                    for script in scripts:
                        given = {
                            k: v for k, v in demo_variables(site).items() if k in script.variables
                        }
                        started = time.perf_counter()
                        result = await executor.run(
                            bind(script, given), LevelChoice(level, "bench")
                        )
                        if round_no == 0:
                            continue
                        seconds[level, script.name].append(time.perf_counter() - started)
                        outcome = "ok" if result.success else "failed"
                        kept[f"{level.name} {outcome}"].append(result.recording.bytes)
    return seconds, kept


def table(seconds: Timings, kept: dict[str, list[int]]) -> str:
    scripts = sorted({name for _, name in seconds})
    median = {key: statistics.median(values) for key, values in seconds.items()}
    lines = [
        "| level | sessions | time vs NONE (geometric mean over scripts) "
        "| mean bytes kept, success | mean bytes kept, failure |",
        "|---|---:|---:|---:|---:|",
    ]
    for level in RecordingLevel:
        ratios = [median[level, name] / median[RecordingLevel.NONE, name] for name in scripts]
        sessions = sum(len(seconds[level, name]) for name in scripts)
        ok = kept.get(f"{level.name} ok", [0])
        failed = kept.get(f"{level.name} failed", [0])
        lines.append(
            f"| {level.name} | {sessions} | {statistics.geometric_mean(ratios):.2f}x "
            f"| {statistics.mean(ok):,.0f} | {statistics.mean(failed):,.0f} |"
        )
    none = [f"{name} {median[RecordingLevel.NONE, name]:.2f} s" for name in scripts]
    lines.append(f"\nMedian session time at NONE: {', '.join(none)}.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    configure_logging("text", "ERROR")
    seconds, kept = asyncio.run(measure(args.rounds))
    body = table(seconds, kept)
    print(body)
    if not args.no_write:
        write_section(NAME, COMMAND.format(rounds=args.rounds), body)


if __name__ == "__main__":
    main()
