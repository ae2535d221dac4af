"""Finding a Chromium to drive: configured path, Playwright's bundled build, the system's."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from agent.errors import BrowserNotFound

SYSTEM_CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def _usable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_chromium(configured: str | None, bundled: str | None) -> Path:
    """The first usable browser, in order; the error names every place that was tried."""
    tried: list[str] = []
    if configured:
        path = Path(configured).expanduser()
        if _usable(path):
            return path
        raise BrowserNotFound(
            f"the configured browser path {configured!r} is not an executable file "
            "(setting browser.executable_path / BROWSER_AGENT_BROWSER__EXECUTABLE_PATH)"
        )
    tried.append("browser.executable_path (not set)")
    if bundled:
        if _usable(Path(bundled)):
            return Path(bundled)
        tried.append(f"Playwright's bundled Chromium at {bundled} (not installed)")
    for name in SYSTEM_CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return Path(found)
    tried.append(f"the system's PATH ({', '.join(SYSTEM_CHROMIUM_NAMES)})")
    raise BrowserNotFound(
        "no Chromium found; tried " + "; ".join(tried) + ". Install one (e.g. `apt-get install "
        "chromium` or `playwright install chromium`) or set browser.executable_path"
    )
