"""Nova Act's own browser actuator, pointed at the task's browser context.

The SDK normally launches a browser of its own (or attaches over CDP and picks the last page
of the first context it sees). Here it acts on exactly the page the script is on, in the
task's own context: no debugging port is opened, and with several tasks in one Chromium each
act stays on its own task's page.

The SDK runs on an event loop of its own, in a thread (its service calls block), while the
task's Playwright objects belong to the executor's loop: every browser call of the actuator
is run on the executor's loop and awaited from the SDK's.

Imports the SDK: import this module only when Nova Act is installed and enabled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

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

T = TypeVar("T")
_REFUSED_PAGE = "<html><body>SSL Error</body></html>"  # what the SDK shows in its place


class _TaskContext(PlaywrightInstanceManager):  # type: ignore[misc, unused-ignore]
    """Lends the task's context to the SDK: starting adopts it, stopping only gives it back
    (the executor closes its context itself, after the recording is finished)."""

    _context: BrowserContext | None
    _ssl_hook_enabled: bool
    _ignore_https_errors: bool

    def __init__(self, context: BrowserContext, options: PlaywrightInstanceOptions) -> None:
        super().__init__(options)
        self._task_context = context
        self.refused_navigation: Exception | None = None

    async def start(self, session_logs_directory: str | None) -> None:
        self._session_logs_directory = session_logs_directory
        self._context = self._task_context

    async def stop(self) -> None:
        # The certificate check routes every request of the context while the SDK acts.
        await self.disable_ssl_validation_hook(force=True)
        self._context = None
        self._session_logs_directory = None

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
    """The executor gave up on the step; the SDK must not touch the page any more."""


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
        self._detached = False

    async def detach(self) -> None:
        """Called on the executor's loop when it gives up on the step: from now on every
        browser call of the SDK fails, so an act still running stops at its next action, and
        the context is given back at once (the SDK's request hook removed)."""
        self._detached = True
        await self._task.stop()

    async def _on_page_loop(self, call: Coroutine[Any, Any, T]) -> T:
        if self._detached:
            call.close()
            raise StepDetached("the step was stopped by the executor")
        if asyncio.get_running_loop() is self._page_loop:
            result = await call
        else:
            future = asyncio.run_coroutine_threadsafe(call, self._page_loop)
            result = await asyncio.wrap_future(future)
        refused = self._task.take_refused_navigation()
        if refused is not None:  # as the SDK's own hook would have it: the action failed
            raise refused
        return result

    async def start(self, **kwargs: Any) -> None:
        await self._on_page_loop(super().start(**kwargs))

    async def stop(self, **kwargs: Any) -> None:
        if not self._detached:  # else already given back
            await self._on_page_loop(super().stop(**kwargs))

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
