"""Nova Act's own browser actuator, pointed at the task's browser context.

The SDK normally launches a browser of its own (or attaches over CDP and picks the last page
of the first context it sees). Here it acts on exactly the page the script is on, in the
task's own context: no debugging port is opened, and with several tasks in one Chromium each
act stays on its own task's page.

The SDK runs on an event loop of its own, in a thread (its service calls block), while the
task's Playwright objects belong to the executor's loop: every browser call of the actuator
is run on the executor's loop and awaited from the SDK's.

One actuator serves the script run's one Nova Act session, but the page is lent to the SDK
only while an act runs (`lend` at its start, `take_back` at its end or when the executor gives
up on it): between acts, and after the session ends, every browser call of the SDK fails, and
its certificate check (a route on the context) is gone.

Imports the SDK: import this module only when Nova Act is installed and enabled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from loguru import logger
from nova_act.asyncio.tools.browser.default.default_nova_local_browser_actuator import (
    DefaultNovaLocalBrowserActuator,
)
from nova_act.asyncio.tools.browser.default.playwright import PlaywrightInstanceManager
from nova_act.asyncio.tools.browser.default.playwright_instance_options import (
    PlaywrightInstanceOptions,
)
from nova_act.impl.inputs import validate_url_ssl_certificate
from nova_act.types.errors import InvalidCertificate, InvalidURL
from playwright.async_api import BrowserContext, Route
from playwright.async_api import Error as PlaywrightError

T = TypeVar("T")
_REFUSED_PAGE = "<html><body>SSL Error</body></html>"  # what the SDK shows in its place


class _TaskContext(PlaywrightInstanceManager):  # type: ignore[misc, unused-ignore]
    """Lends the task's context to the SDK for one act at a time; taking it back removes the
    SDK's request hook (the executor closes its context itself, after the recording)."""

    _context: BrowserContext | None
    _ssl_hook_enabled: bool
    _ignore_https_errors: bool

    def __init__(self, context: BrowserContext, options: PlaywrightInstanceOptions) -> None:
        super().__init__(options)
        self._task_context = context
        self.refused_navigation: Exception | None = None

    async def start(self, session_logs_directory: str | None) -> None:
        self._session_logs_directory = session_logs_directory

    async def stop(self) -> None:  # never the SDK's own: that would close the task's context
        self._session_logs_directory = None

    def lend(self) -> None:
        self._context = self._task_context

    async def take_back(self) -> None:
        try:  # the certificate check routes every request of the context while the SDK acts
            await self.disable_ssl_validation_hook(force=True)
        except PlaywrightError as exc:  # the context is closing: its routes go with it
            logger.debug("Nova Act: removing the certificate check failed: {}", exc)
        finally:
            self._context = None
            self._ssl_hook_enabled = False

    async def setup_ssl_validation_hook(self, context: BrowserContext) -> None:
        """The SDK's certificate check on every navigation, minus its raise inside the route
        handler: Playwright prints such an exception (URL and all) straight to stderr, and
        throws it again from the next API call on the connection, which in a worker may be
        another task's. The refusal is remembered instead, and the actuator raises it."""
        if self._ssl_hook_enabled or self._ignore_https_errors:
            return

        async def check_navigation(route: Route) -> None:
            url = route.request.url
            if route.request.is_navigation_request() and url:
                try:  # a TLS connection to the site: not on the executor's loop
                    await asyncio.to_thread(validate_url_ssl_certificate, False, url)
                except (InvalidCertificate, InvalidURL) as exc:
                    self.refused_navigation = self.refused_navigation or exc
                    await route.fulfill(body=_REFUSED_PAGE, content_type="text/html")
                    return
            await route.continue_()

        await context.route("**", check_navigation)
        self._ssl_hook_enabled = True

    def take_refused_navigation(self) -> Exception | None:
        refused, self.refused_navigation = self.refused_navigation, None
        return refused


class StepDetached(RuntimeError):
    """The page is not lent to the SDK (between acts, or the executor gave up on the act)."""


class Lease:
    """One act's claim on the page; revoked when the act ends or the executor gives up on it,
    so an act that only starts after that (queued behind one still finishing) never gets it."""

    revoked = False


class TaskPageActuator(DefaultNovaLocalBrowserActuator):  # type: ignore[misc, unused-ignore]
    """The SDK's default actuator (same actions, same observations) on the task's context."""

    def __init__(
        self,
        context: BrowserContext,
        page_loop: asyncio.AbstractEventLoop,
        *,
        viewport: tuple[int, int],
        ignore_https_errors: bool,
    ) -> None:
        options = PlaywrightInstanceOptions(
            maybe_playwright=None,
            starting_page=None,
            chrome_channel="chromium",
            headless=True,
            user_data_dir="",
            profile_directory=None,
            cdp_endpoint_url=None,
            screen_width=viewport[0],
            screen_height=viewport[1],
            user_agent=None,
            record_video=False,
            ignore_https_errors=ignore_https_errors,
        )
        super().__init__(playwright_options=options)
        self._task = _TaskContext(context, options)
        self._playwright_manager = self._task  # where the SDK's actions find their page
        self._page_loop = page_loop
        self._lent = False
        self._open = False

    @property
    def started(self) -> bool:
        """The SDK's session is open (whether or not an act holds the page now)."""
        return self._open

    async def lend(self, lease: Lease) -> None:
        """Called on the SDK's loop when an act starts: the page is the SDK's until
        `take_back`, unless the lease was revoked while the act waited for its turn."""

        async def attach() -> None:
            if lease.revoked:
                raise StepDetached("the step was stopped by the executor")
            self._lent = True
            self._task.lend()

        await self._run_on_page_loop(attach())

    async def take_back(self, lease: Lease) -> None:
        """Called on the executor's loop when the act ends or the executor gives up on it:
        from now on every browser call of the SDK fails, so an act still running stops at its
        next action, and the context is given back at once (the SDK's request hook removed)."""
        lease.revoked = True
        if self._lent:
            self._lent = False
            await self._task.take_back()

    async def _run_on_page_loop(self, call: Coroutine[Any, Any, T]) -> T:
        if asyncio.get_running_loop() is self._page_loop:
            return await call
        future = asyncio.run_coroutine_threadsafe(call, self._page_loop)
        return await asyncio.wrap_future(future)

    async def _on_page_loop(self, call: Coroutine[Any, Any, T]) -> T:
        if not self._lent:
            call.close()
            raise StepDetached("the step was stopped by the executor")
        result = await self._run_on_page_loop(call)
        refused = self._task.take_refused_navigation()
        if refused is not None:  # as the SDK's own hook would have it: the action failed
            raise refused
        return result

    async def start(self, **kwargs: Any) -> None:
        """The session starts: nothing to launch, and the page waits for the first act."""
        await self._task.start(kwargs.get("session_logs_directory"))
        self._open = True

    async def stop(self, **kwargs: Any) -> None:
        """The session ends; the page was taken back when its last act ended."""
        self._open = False

    async def lock_context(self) -> None:
        await self._on_page_loop(super().lock_context())

    async def unlock_context(self) -> None:
        await self._on_page_loop(super().unlock_context())

    async def agent_click(self, box: str, click_type: Any = None, click_options: Any = None) -> Any:
        return await self._on_page_loop(super().agent_click(box, click_type, click_options))

    async def agent_hover(self, box: str) -> Any:
        return await self._on_page_loop(super().agent_hover(box))

    async def agent_scroll(self, direction: Any, box: str, value: float | None = None) -> Any:
        return await self._on_page_loop(super().agent_scroll(direction, box, value))

    async def agent_type(self, value: str, box: str, pressEnter: bool = False) -> Any:
        return await self._on_page_loop(super().agent_type(value, box, pressEnter))

    async def go_to_url(self, url: str) -> Any:
        return await self._on_page_loop(super().go_to_url(url))

    async def wait(self, seconds: float) -> Any:
        return await self._on_page_loop(super().wait(seconds))

    async def wait_for_page_to_settle(self) -> Any:
        return await self._on_page_loop(super().wait_for_page_to_settle())

    async def take_observation(self) -> Any:
        return await self._on_page_loop(super().take_observation())

    async def get_viewport_size(self) -> Any:
        return await self._on_page_loop(super().get_viewport_size())
