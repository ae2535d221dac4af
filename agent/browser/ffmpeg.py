"""Giving Playwright an ffmpeg for video when its own build cannot be downloaded.

Playwright records video only with the ffmpeg it expects under its browsers folder. Where
that download is unreachable, a system ffmpeg (Debian's, or the one in `imageio-ffmpeg`)
works the same once linked into that place.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

import playwright
from loguru import logger

_NAMES = {"linux": "ffmpeg-linux", "darwin": "ffmpeg-mac", "win32": "ffmpeg-win64.exe"}


def playwright_ffmpeg_path(environ: Mapping[str, str]) -> Path:
    driver = Path(playwright.__file__).parent / "driver" / "package"
    browsers = json.loads((driver / "browsers.json").read_text())["browsers"]
    revision = next(b["revision"] for b in browsers if b["name"] == "ffmpeg")
    configured = environ.get("PLAYWRIGHT_BROWSERS_PATH")
    if configured == "0":
        root = driver / ".local-browsers"
    elif configured:
        root = Path(configured)
    else:
        root = Path(environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ms-playwright"
    return root / f"ffmpeg-{revision}" / _NAMES.get(sys.platform, "ffmpeg-linux")


def system_ffmpeg() -> Path | None:
    found = shutil.which("ffmpeg")
    if found:
        return Path(found)
    try:
        import imageio_ffmpeg  # type: ignore[import-not-found]

        return Path(imageio_ffmpeg.get_ffmpeg_exe())
    except Exception:
        return None


def ensure_video_encoder(environ: Mapping[str, str] | None = None) -> bool:
    """True when Playwright can record video (its ffmpeg is there, or was linked there now)."""
    target = playwright_ffmpeg_path(os.environ if environ is None else environ)
    if target.exists():
        return True
    source = system_ffmpeg()
    if source is None:
        logger.warning("no ffmpeg found: TRACE sessions will have no video (install ffmpeg)")
        return False
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(source)
    except OSError as exc:
        if target.exists():  # another process linked it first
            return True
        logger.warning("cannot link {} to {}: {}; no video", source, target, exc)
        return False
    logger.info("video: using {} as Playwright's ffmpeg ({})", source, target)
    return True
