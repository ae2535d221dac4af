"""The deterministic actions, one coroutine each, run against a Playwright page."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import jsonschema
from playwright.async_api import Page
from playwright.async_api import TimeoutError as PlaywrightTimeout

from agent.errors import NovaActNotConfigured, StepFailed
from agent.recording.recorder import SessionRecorder
from agent.script import model as m


@dataclass(frozen=True)
class StepContext:
    page: Page
    n: int
    timeout_ms: int
    recorder: SessionRecorder


Action = Callable[[Any, StepContext], Awaitable[Any]]

_EXTRACT_JS = """
(elements, fields) => elements.map((el) => {
  const text = (node) => node ? (node.innerText ?? node.textContent ?? "").trim() : null;
  if (!fields) return text(el);
  const out = {};
  for (const [name, css] of Object.entries(fields)) out[name] = text(el.querySelector(css));
  return out;
})
"""


async def goto(step: m.Goto, ctx: StepContext) -> Any:
    response = await ctx.page.goto(step.url, timeout=ctx.timeout_ms, wait_until="load")
    return {"url": ctx.page.url, "status": response.status if response else None}


async def click(step: m.Click, ctx: StepContext) -> Any:
    await ctx.page.click(step.selector, timeout=ctx.timeout_ms)


async def fill(step: m.Fill, ctx: StepContext) -> Any:
    await ctx.page.fill(step.selector, step.value, timeout=ctx.timeout_ms)


async def press(step: m.Press, ctx: StepContext) -> Any:
    await ctx.page.press(step.selector, step.key, timeout=ctx.timeout_ms)


async def select(step: m.Select, ctx: StepContext) -> Any:
    chosen = await ctx.page.select_option(step.selector, step.value, timeout=ctx.timeout_ms)
    return {"selected": chosen}


async def check(step: m.Check, ctx: StepContext) -> Any:
    await ctx.page.set_checked(step.selector, step.checked, timeout=ctx.timeout_ms)


async def wait_for(step: m.WaitFor, ctx: StepContext) -> Any:
    if step.selector is not None:
        await ctx.page.wait_for_selector(step.selector, state="visible", timeout=ctx.timeout_ms)
    elif step.text is not None:
        await ctx.page.get_by_text(step.text).first.wait_for(
            state="visible", timeout=ctx.timeout_ms
        )
    elif step.url is not None:
        await ctx.page.wait_for_url(step.url, timeout=ctx.timeout_ms)
        return {"url": ctx.page.url}


async def extract(step: m.Extract, ctx: StepContext) -> Any:
    locator = ctx.page.locator(step.selector)
    try:
        await locator.first.wait_for(state="attached", timeout=ctx.timeout_ms)
    except PlaywrightTimeout:
        raise StepFailed(
            f"extract {step.name!r}: no element matches {step.selector!r} "
            f"(waited {ctx.timeout_ms} ms)",
            step=ctx.n,
        ) from None
    values = await locator.evaluate_all(_EXTRACT_JS, step.fields)
    data = values if step.multiple else values[0]
    if step.schema_ is not None:
        _validate(step, data, ctx.n)
    ctx.recorder.extract_output(ctx.n, step.name, data)
    return data


def _validate(step: m.Extract, data: Any, n: int) -> None:
    try:
        jsonschema.validate(data, step.schema_ or {})
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
        raise StepFailed(
            f"extract {step.name!r} does not match its schema at {where}: {exc.message}", step=n
        ) from None
    except jsonschema.SchemaError as exc:
        raise StepFailed(
            f"extract {step.name!r} has an invalid schema: {exc.message}", step=n
        ) from None


async def screenshot(step: m.Screenshot, ctx: StepContext) -> Any:
    await ctx.recorder.explicit_screenshot(ctx.page, ctx.n, step.name, step.full_page)
    return {"name": step.name}


async def assert_(step: m.Assert, ctx: StepContext) -> Any:
    state: Literal["attached", "detached", "visible", "hidden"]
    if step.selector is not None:
        target, locator = f"selector {step.selector!r}", ctx.page.locator(step.selector).first
        state = "attached" if step.present else "detached"
    else:
        target, locator = f"text {step.text!r}", ctx.page.get_by_text(step.text or "").first
        state = "visible" if step.present else "hidden"
    try:
        await locator.wait_for(state=state, timeout=ctx.timeout_ms)
    except PlaywrightTimeout:
        expected = "present" if step.present else "absent"
        raise StepFailed(
            f"assertion failed: {target} is not {expected} (waited {ctx.timeout_ms} ms)", step=ctx.n
        ) from None


async def nova_act_unavailable(step: m.Act | m.ActWithSchema, ctx: StepContext) -> Any:
    raise NovaActNotConfigured(step=ctx.n)


ACTIONS: dict[type[Any], Action] = {
    m.Goto: goto,
    m.Click: click,
    m.Fill: fill,
    m.Press: press,
    m.Select: select,
    m.Check: check,
    m.WaitFor: wait_for,
    m.Extract: extract,
    m.Screenshot: screenshot,
    m.Assert: assert_,
    m.Act: nova_act_unavailable,
    m.ActWithSchema: nova_act_unavailable,
}
