"""Writing one benchmark's result into docs/benchmarks.md, between that benchmark's markers."""

from __future__ import annotations

import os
import platform
import re
from datetime import UTC, datetime
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
HEADER = """# Benchmarks

Run on demand, never in CI. Each section is rewritten by the command shown in it. Machines
here are shared and noisy, so each benchmark compares its variants side by side in one run and
reports ratios; absolute seconds are only indicative.
"""


def write_section(name: str, command: str, body: str) -> None:
    begin, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    section = f"{begin}\n`{command}` ({when}; {machine})\n\n{body}\n{end}"
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else HEADER
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip("\n") + f"\n\n## {name}\n\n{section}\n"
    DOC.write_text(text, encoding="utf-8")
