"""Driving headless Chromium through Playwright."""

from agent.browser.driver import BrowserDriver, BrowserOptions, ContextOptions
from agent.browser.finder import find_chromium

__all__ = ["BrowserDriver", "BrowserOptions", "ContextOptions", "find_chromium"]
