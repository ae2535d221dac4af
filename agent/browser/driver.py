"""One headless Chromium per agent, one browser context per run."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from loguru import logger
from playwright.async_api import Browser, BrowserContext, Playwright, async_playwright

from agent.browser.finder import find_chromium
from agent.errors import BrowserCrashed

# Quiet flags: without them Chromium keeps calling home, which fails on closed networks.
CHROMIUM_ARGS = (
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--disable-gpu",
    "--no-first-run",
    "--disable-dev-shm-usage",
)


@dataclass(frozen=True)
class BrowserOptions:
    executable_path: str | None = None
    headless: bool = True
    launch_timeout_ms: int = 30_000


@dataclass(frozen=True)
class ContextOptions:
    viewport_width: int = 1280
    viewport_height: int = 720
    video_dir: Path | None = None
    har_path: Path | None = None


class BrowserDriver:
    """Owns the Playwright connection and the browser; relaunches a browser that died."""

    def __init__(self, options: BrowserOptions | None = None) -> None:
        self.options = options or BrowserOptions()
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._lock = asyncio.Lock()
        self.executable: Path | None = None

    async def __aenter__(self) -> BrowserDriver:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        if self._playwright is None:
            self._playwright = await async_playwright().start()
        await self._ensure_browser()

    async def _ensure_browser(self) -> Browser:
        async with self._lock:
            if self._browser is not None and self._browser.is_connected():
                return self._browser
            assert self._playwright is not None, "BrowserDriver.start() was not called"
            chromium = self._playwright.chromium
            self.executable = find_chromium(self.options.executable_path, chromium.executable_path)
            if self._browser is not None:
                logger.warning("browser is gone; relaunching {}", self.executable)
            self._browser = await chromium.launch(
                executable_path=str(self.executable),
                headless=self.options.headless,
                args=list(CHROMIUM_ARGS),
                timeout=self.options.launch_timeout_ms,
            )
            return self._browser

    async def new_context(self, options: ContextOptions) -> BrowserContext:
        browser = await self._ensure_browser()
        try:
            return await browser.new_context(
                viewport={"width": options.viewport_width, "height": options.viewport_height},
                record_video_dir=str(options.video_dir) if options.video_dir else None,
                record_video_size=(
                    {"width": options.viewport_width, "height": options.viewport_height}
                    if options.video_dir
                    else None
                ),
                record_har_path=str(options.har_path) if options.har_path else None,
                record_har_content="omit" if options.har_path else None,
            )
        except Exception as exc:
            if not browser.is_connected():
                raise BrowserCrashed(f"the browser died while opening a context: {exc}") from exc
            raise

    @property
    def browser_pid(self) -> int | None:
        """The browser's process id, when Playwright exposes it (used by crash tests)."""
        browser = self._browser
        process = getattr(getattr(browser, "_impl_obj", None), "_process", None)
        return getattr(process, "pid", None)

    def is_connected(self) -> bool:
        return self._browser is not None and self._browser.is_connected()

    async def close(self) -> None:
        if self._browser is not None:
            try:
                await self._browser.close()
            except Exception as exc:  # a dead browser cannot be closed; nothing is lost
                logger.debug("closing the browser failed: {}", exc)
            self._browser = None
        if self._playwright is not None:
            await self._playwright.stop()
            self._playwright = None
