"""The executor in-process, with one real headless Chromium per module and the demo site."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import files_under
from in_process_browser import InProcessBrowser, started

from agent.demo.site import DemoSite
from agent.levels import RecordingLevel
from agent.result import RunResult

pytestmark = pytest.mark.browser


Browser = InProcessBrowser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from started(Browser())


def _script(site: DemoSite, *steps: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "name": "executor-test",
        "starting_page": site.url + "/",
        "steps": list(steps),
        **fields,
    }


def _statuses(result: RunResult) -> list[str]:
    return [step.status for step in result.steps]


def test_step_timeout_gives_timeout_code(
    browser: Browser, demo_site: DemoSite, tmp_path: Path
) -> None:
    data = _script(
        demo_site,
        {"action": "goto", "url": demo_site.url + "/slow?ms=5000", "timeout_ms": 500},
        {"action": "screenshot", "name": "never"},
    )
    result = browser.run(data, tmp_path / "spool")
    assert result.success is False
    assert result.error is not None
    assert result.error.code == "BrowserAgent.Timeout"
    assert result.error.step == 1
    assert "500 ms" in result.error.message
    assert _statuses(result) == ["failed", "skipped"]


def test_navigation_timeout_still_records_the_failing_page(
    browser: Browser, demo_site: DemoSite, tmp_path: Path
) -> None:
    # Spec 4.1, level ERROR: the failing step's screenshot + HTML + error details are kept.
    # The server answers long after the step's 500 ms (and after the recorder's 10 s
    # screenshot timeout), so the page is still navigating when the failure is captured.
    spool = tmp_path / "spool"
    data = _script(
        demo_site,
        {"action": "goto", "url": demo_site.url + "/slow?ms=15000", "timeout_ms": 500},
    )
    result = browser.run(data, spool, level=RecordingLevel.ERROR)
    assert result.error is not None
    assert result.error.code == "BrowserAgent.Timeout"
    manifests = [p for p in files_under(spool) if p.name == "manifest.json"]
    assert len(manifests) == 1
    manifest = json.loads(manifests[0].read_text(encoding="utf-8"))
    kept = {(artifact["type"], artifact["step"]) for artifact in manifest["artifacts"]}
    assert {("screenshot", 1), ("html", 1), ("error", 1)} <= kept


def test_abort_on_error_false_runs_remaining_steps_and_still_fails(
    browser: Browser, demo_site: DemoSite, tmp_path: Path
) -> None:
    data = _script(
        demo_site,
        {"action": "goto", "url": demo_site.url + "/results"},
        {"action": "assert", "selector": "#not-on-this-page", "timeout_ms": 300},
        {"action": "extract", "name": "first_author", "selector": "tr.quote .author"},
        {"action": "assert", "text": "Results"},
        abort_on_error=False,
    )
    result = browser.run(data, tmp_path / "spool")
    assert _statuses(result) == ["ok", "failed", "ok", "ok"]
    assert result.success is False
    assert result.error is not None
    assert result.error.step == 2
    assert result.error.code == "BrowserAgent.StepFailed"
    assert result.outputs == {"first_author": "Franklin D. Roosevelt"}


def test_click_on_missing_selector_fails_naming_the_selector(
    browser: Browser, demo_site: DemoSite, tmp_path: Path
) -> None:
    data = _script(
        demo_site,
        {"action": "goto", "url": demo_site.url + "/login"},
        {"action": "click", "selector": "#no-such-button", "timeout_ms": 500},
    )
    result = browser.run(data, tmp_path / "spool")
    assert result.success is False
    assert result.error is not None
    assert result.error.code in {"BrowserAgent.StepFailed", "BrowserAgent.Timeout"}
    assert result.error.step == 2
    assert "#no-such-button" in result.error.message
    assert result.steps[1].error is not None
    assert "#no-such-button" in result.steps[1].error


@pytest.mark.parametrize(
    "step",
    [
        {"action": "act", "prompt": "sign in"},
        {"action": "act_with_schema", "prompt": "read the title", "schema": {"type": "object"}},
    ],
    ids=["act", "act_with_schema"],
)
def test_nova_act_step_fails_as_not_configured(
    browser: Browser, demo_site: DemoSite, tmp_path: Path, step: dict[str, Any]
) -> None:
    result = browser.run(_script(demo_site, step), tmp_path / "spool")
    assert result.success is False
    assert result.error is not None
    assert result.error.code == "BrowserAgent.NovaAct.NotConfigured"
    assert result.error.step == 1
    assert _statuses(result) == ["failed"]


def _sign_up(site: DemoSite, *, plan: str, accept_terms: bool) -> dict[str, Any]:
    return _script(
        site,
        {"action": "goto", "url": site.url + "/form"},
        {"action": "fill", "selector": "#full-name", "value": "Grace Hopper"},
        {"action": "click", "selector": "#next"},
        {"action": "wait_for", "selector": "#plan"},
        {"action": "select", "selector": "#plan", "value": plan},
        {"action": "check", "selector": "#terms"},
        {"action": "check", "selector": "#terms", "checked": accept_terms},
        {"action": "fill", "selector": "#coupon", "value": "SPRING"},
        {"action": "press", "selector": "#coupon", "key": "Enter"},
        {"action": "wait_for", "selector": "#thanks, #form-error"},
        {
            "action": "extract",
            "name": "page",
            "selector": "body",
            "fields": {"thanks": "#thanks", "error": "#form-error", "plan": ".plan"},
        },
    )


def test_select_check_and_press_drive_the_multi_step_form(
    browser: Browser, demo_site: DemoSite, tmp_path: Path
) -> None:
    # "enterprise" is not the default option, so the plan proves `select` worked; the
    # thank-you page proves `check` ticked the terms and `press Enter` submitted the form.
    result = browser.run(_sign_up(demo_site, plan="enterprise", accept_terms=True), tmp_path)
    assert result.success is True, result.error
    assert result.steps[4].output == {"selected": ["enterprise"]}
    assert result.outputs["page"] == {"thanks": "Thank you", "error": None, "plan": "enterprise"}


def test_check_false_unticks_the_box(browser: Browser, demo_site: DemoSite, tmp_path: Path) -> None:
    result = browser.run(_sign_up(demo_site, plan="pro", accept_terms=False), tmp_path)
    assert result.success is True, result.error
    assert result.outputs["page"] == {
        "thanks": None,
        "error": "You must accept the terms",
        "plan": None,
    }


def test_extract_schema_mismatch_names_the_schema_path(
    browser: Browser, demo_site: DemoSite, tmp_path: Path
) -> None:
    data = _script(
        demo_site,
        {"action": "goto", "url": demo_site.url + "/results"},
        {
            "action": "extract",
            "name": "quotes",
            "selector": "tr.quote",
            "multiple": True,
            "fields": {"text": ".text", "author": ".author"},
            # Only the sixth row (index 5) breaks the schema, so the path is predictable.
            "schema": {
                "type": "array",
                "items": {"properties": {"author": {"not": {"const": "Donald Knuth"}}}},
            },
        },
    )
    result = browser.run(data, tmp_path / "spool")
    assert result.success is False
    assert result.error is not None
    assert result.error.code == "BrowserAgent.StepFailed"
    assert result.error.step == 2
    assert "'quotes'" in result.error.message
    assert "schema at 5/author" in result.error.message
    assert "quotes" not in result.outputs


@pytest.mark.parametrize("succeeds", [True, False], ids=["success", "failure"])
def test_level_none_writes_no_files(
    browser: Browser, demo_site: DemoSite, tmp_path: Path, succeeds: bool
) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    data = _script(
        demo_site,
        {"action": "goto", "url": demo_site.url + "/results"},
        {"action": "extract", "name": "quotes", "selector": "tr.quote", "multiple": True},
        {"action": "screenshot", "name": "table"},
        {"action": "assert", "selector": "tr.quote" if succeeds else "#absent", "timeout_ms": 300},
    )
    result = browser.run(data, spool, level=RecordingLevel.NONE)
    assert result.success is succeeds
    assert len(result.outputs["quotes"]) >= 5
    assert result.recording.level == "NONE"
    assert result.recording.artifacts == 0
    assert result.recording.manifest_uri is None
    assert files_under(spool) == [], sorted(spool.rglob("*"))
