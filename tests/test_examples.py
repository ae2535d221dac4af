"""Every bundled example, run through the real CLI against the demo site in real Chromium."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLES_DIR, Cli, CliResult, files_under, find_secret

from agent.demo.site import DemoSite

pytestmark = pytest.mark.browser

FAILING_EXAMPLE = "fails_on_purpose"


def _welcome(outputs: dict[str, Any]) -> None:
    assert outputs["welcome"] == "Welcome, demo"


def _summary(outputs: dict[str, Any]) -> None:
    summary = outputs["summary"]
    assert summary["plan"] == "pro"
    assert summary["name"] == "Ada Lovelace"


def _quotes(outputs: dict[str, Any]) -> None:
    quotes = outputs["quotes"]
    assert isinstance(quotes, list)
    assert len(quotes) >= 5
    for quote in quotes:
        assert quote["text"]
        assert quote["author"]
    assert {"text": "I have a dream.", "author": "Martin Luther King Jr.", "year": "1963"} in quotes


def _message(outputs: dict[str, Any]) -> None:
    assert outputs["message"] == "The late content has arrived"


EXPECTED_OUTPUTS: dict[str, Callable[[dict[str, Any]], None]] = {
    "login": _welcome,
    "multi_step_form": _summary,
    "results_table": _quotes,
    "delayed_content": _message,
}
EXAMPLES = sorted(EXAMPLES_DIR.glob("*.json"))


def _run_example(cli: Cli, name: str) -> tuple[CliResult, dict[str, Any], Path]:
    out = cli.cwd / "out"
    result = cli("run-script", EXAMPLES_DIR / f"{name}.json", "--demo-site", "--out", out)
    assert "Traceback" not in result.stderr
    try:
        parsed = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(
            f"stdout is not the result JSON:\n{result.stdout}\n--- stderr:\n{result.stderr}"
        )
    return result, parsed, out


def test_every_expected_example_is_bundled() -> None:
    names = {path.stem for path in EXAMPLES}
    assert {*EXPECTED_OUTPUTS, FAILING_EXAMPLE} <= names


@pytest.mark.parametrize(
    "name", [p.stem for p in EXAMPLES if p.stem != FAILING_EXAMPLE], ids=lambda n: n
)
def test_example_succeeds_with_expected_outputs(cli: Cli, name: str) -> None:
    result, parsed, _ = _run_example(cli, name)
    assert result.returncode == 0, result.stderr
    assert parsed["success"] is True
    assert "error" not in parsed
    assert parsed["script"] == name
    assert [step["status"] for step in parsed["steps"]] == ["ok"] * len(parsed["steps"])
    check = EXPECTED_OUTPUTS.get(name)
    if check is not None:
        check(parsed["outputs"])


def test_fails_on_purpose_reports_step_2_and_skips_step_3(cli: Cli) -> None:
    result, parsed, _ = _run_example(cli, FAILING_EXAMPLE)
    assert result.returncode == 1, result.stderr
    assert parsed["success"] is False
    assert parsed["error"]["step"] == 2
    assert "#welcome" in parsed["error"]["message"]
    statuses = {step["n"]: step["status"] for step in parsed["steps"]}
    assert statuses == {1: "ok", 2: "failed", 3: "skipped"}
    assert "#welcome" in parsed["steps"][1]["error"]


def test_login_never_writes_the_demo_password(cli: Cli) -> None:
    result, parsed, out = _run_example(cli, "login")
    assert result.returncode == 0, result.stderr
    assert parsed["outputs"]["welcome"] == "Welcome, demo"
    # The grep below is only meaningful if the run really recorded something.
    assert parsed["recording"]["artifacts"] > 0
    written = files_under(out)
    assert any(p.name == "manifest.json" for p in written)
    hits = find_secret(
        DemoSite.PASSWORD,
        {"stdout": result.stdout, "stderr": result.stderr},
        [cli.cwd],
    )
    assert hits == []
