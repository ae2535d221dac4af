"""The actions, one coroutine each, run against a Playwright page: the deterministic ones,
and the Nova Act ones, which hand their prompt to the run's Nova Act session (`agent.nova`)."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import jsonschema
from playwright.async_api import Page
from playwright.async_api import TimeoutError as PlaywrightTimeout

from agent.errors import NovaActError, NovaActNotConfigured, StepFailed
from agent.nova import ActOutcome, ActRequest, NovaActSession
from agent.recording.recorder import SessionRecorder
from agent.script import model as m

NOVA_ACT_DISABLED = "nova_act.enabled is false (BROWSER_AGENT_NOVA_ACT__ENABLED)"


@dataclass(frozen=True)
class StepContext:
    page: Page
    n: int
    timeout_ms: int
    recorder: SessionRecorder
    nova: NovaActSession | None = None  # the run's one Nova Act session


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


async def act(step: m.Act, ctx: StepContext) -> Any:
    outcome = await _nova_act(step, ctx, schema=None)
    return {"act_id": outcome.act_id, "steps": outcome.steps}


async def act_with_schema(step: m.ActWithSchema, ctx: StepContext) -> Any:
    try:
        jsonschema.validators.validator_for(step.schema_).check_schema(step.schema_)
    except jsonschema.SchemaError as exc:
        message = f"act_with_schema has an invalid schema: {exc.message}"
        raise StepFailed(message, step=ctx.n) from None
    answer = (await _nova_act(step, ctx, schema=step.schema_)).answer
    try:  # the SDK checks too; this check is ours, and says where the answer is wrong
        jsonschema.validate(answer, step.schema_)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
        raise NovaActError(
            f"Nova Act's answer does not match the step's schema at {where}: {exc.message}",
            kind="SchemaMismatch",
            step=ctx.n,
        ) from None
    ctx.recorder.extract_output(ctx.n, step.name or f"act-{ctx.n:03d}", answer)
    return answer


async def _nova_act(
    step: m.Act | m.ActWithSchema, ctx: StepContext, schema: dict[str, Any] | None
) -> ActOutcome:
    if ctx.nova is None:
        raise NovaActNotConfigured(step=ctx.n, reason=NOVA_ACT_DISABLED)
    request = ActRequest(
        step=ctx.n,
        prompt=step.prompt,
        timeout_s=max(2, math.ceil(ctx.timeout_ms / 1000)),
        max_steps=step.max_steps or ctx.nova.settings.max_steps,
        schema=schema,
    )
    try:
        return await ctx.nova.act(ctx.page, request, ctx.recorder)
    finally:
        # The agent may have typed a secret from the prompt into any field: mask it.
        if any(secret in step.prompt for secret in ctx.recorder.redactor.secrets):
            await ctx.recorder.hide_fields_holding_secrets(ctx.page)


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
    m.Act: act,
    m.ActWithSchema: act_with_schema,
}
