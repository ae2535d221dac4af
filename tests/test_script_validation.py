"""Script validation: one clear `error:` line naming the field path, through the real CLI;
and variable binding (parse_script / bind) in-process, without a browser."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import Cli, CliResult

from agent.errors import InvalidInput, ScriptValidationError
from agent.script import BoundScript, SecretRef, bind, parse_script
from agent.script.model import Extract, Fill, Goto

EXIT_BAD_INPUT = 2


def _script(*steps: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "name": "validation",
        "steps": list(steps) or [{"action": "goto", "url": "x"}],
        **fields,
    }


def _run_bad(cli: Cli, content: str, *extra: str) -> CliResult:
    (cli.cwd / "bad.json").write_text(content, encoding="utf-8")
    return cli("run-script", "bad.json", *extra)


def _assert_one_error(result: CliResult, *expected: str) -> str:
    """Exit 2, nothing on stdout, one `error:` line holding every expected fragment."""
    assert result.returncode == EXIT_BAD_INPUT, result
    assert "Traceback" not in result.stdout
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    errors = result.error_lines()
    assert len(errors) == 1, result.stderr
    for fragment in expected:
        assert fragment in errors[0], errors[0]
    return errors[0]


# -- through the CLI -------------------------------------------------------------------


def test_unknown_action_names_step_path(cli: Cli) -> None:
    bad = _script({"action": "goto", "url": "x"}, {"action": "hover", "selector": "a"})
    line = _assert_one_error(_run_bad(cli, json.dumps(bad)), "steps[1].action", "'hover'")
    assert "goto" in line  # the valid actions are listed


def test_missing_selector_names_step_path(cli: Cli) -> None:
    bad = _script({"action": "goto", "url": "x"}, {"action": "click"})
    _assert_one_error(_run_bad(cli, json.dumps(bad)), "steps[1].selector", "missing")


def test_unknown_top_level_field_is_named(cli: Cli) -> None:
    bad = _script(colour="blue")
    _assert_one_error(_run_bad(cli, json.dumps(bad)), "colour: unknown field")


def test_unknown_field_inside_a_step_names_step_path(cli: Cli) -> None:
    bad = _script({"action": "goto", "url": "x"}, {"action": "click", "selector": "a", "force": 1})
    _assert_one_error(_run_bad(cli, json.dumps(bad)), "steps[1].force: unknown field")


@pytest.mark.parametrize("url", ["{{ x", "{{a b}}"], ids=["unclosed", "space-in-name"])
def test_malformed_placeholder_names_step_path(cli: Cli, url: str) -> None:
    bad = _script({"action": "goto", "url": url}, variables={"x": {}, "a": {}})
    _assert_one_error(_run_bad(cli, json.dumps(bad)), "steps[0].url", "malformed placeholder")


def test_missing_required_variable_is_named(cli: Cli) -> None:
    bad = _script(
        {"action": "goto", "url": "{{postcode}}"}, variables={"postcode": {"required": True}}
    )
    _assert_one_error(_run_bad(cli, json.dumps(bad)), "variables.postcode", "required")


def test_unknown_variable_in_placeholder_names_step_path(cli: Cli) -> None:
    bad = _script(
        {"action": "goto", "url": "x"}, {"action": "fill", "selector": "a", "value": "{{nope}}"}
    )
    _assert_one_error(_run_bad(cli, json.dumps(bad)), "steps[1].value", "unknown variable 'nope'")


def test_json_syntax_error_names_line_and_column(cli: Cli) -> None:
    text = '{\n  "name": "broken",\n  "steps": [}\n'
    _assert_one_error(_run_bad(cli, text), "bad.json", "not valid JSON", "line 3", "column 13")


def test_json_array_instead_of_object_is_rejected(cli: Cli) -> None:
    _assert_one_error(_run_bad(cli, "[1, 2]"), "bad.json", "JSON object", "list")


def test_missing_file_is_named(cli: Cli) -> None:
    _assert_one_error(cli("run-script", "no-such-script.json"), "no-such-script.json", "not found")


def test_invalid_recording_level_in_script_lists_valid_levels(cli: Cli) -> None:
    bad = _script(session={"recording_level": "LOUD"})
    line = _assert_one_error(_run_bad(cli, json.dumps(bad)), "session.recording_level", "'LOUD'")
    for name in ("NONE", "ERROR", "INFO", "DEBUG", "TRACE"):
        assert name in line


def test_wait_for_with_two_targets_names_step_path(cli: Cli) -> None:
    bad = _script(
        {"action": "goto", "url": "x"},
        {"action": "wait_for", "selector": "#a", "text": "hello"},
    )
    _assert_one_error(_run_bad(cli, json.dumps(bad)), "steps[1]", "exactly one of")


# -- parse_script and bind, in-process -------------------------------------------------

TRICKY = "say \"hi\" \\ C:\\temp\\new \\1 \\g<0> <b>bold</b> &amp; {{not_a_var}} 'q'"


def _bound(data: dict[str, Any], given: dict[str, Any]) -> BoundScript:
    return bind(parse_script(data), given)


def test_placeholders_are_substituted_inside_each_string_verbatim() -> None:
    data = _script(
        {"action": "goto", "url": "{{base}}/search?q={{term}}"},
        {"action": "fill", "selector": "#q", "value": "[{{term}}]"},
        {
            "action": "extract",
            "name": "hits",
            "selector": "{{row}}",
            "fields": {"title": "{{row}} .title"},
        },
        variables={"base": {}, "term": {}, "row": {}},
        starting_page="{{base}}/",
    )
    bound = _bound(data, {"base": "http://h", "term": TRICKY, "row": "tr.hit"})
    script = bound.script
    assert script.starting_page == "http://h/"
    goto, fill, extract = script.steps
    assert isinstance(goto, Goto) and isinstance(fill, Fill) and isinstance(extract, Extract)
    assert goto.url == f"http://h/search?q={TRICKY}"
    assert fill.value == f"[{TRICKY}]"
    assert extract.selector == "tr.hit"
    assert extract.fields == {"title": "tr.hit .title"}
    assert bound.secrets == frozenset()


def test_substitution_leaves_the_script_without_placeholders_outside_templated_parts() -> None:
    data = _script(
        {"action": "goto", "url": "{{u}}"},
        variables={"u": {"description": "{{u}} is documentation, not a template"}},
    )
    bound = _bound(data, {"u": "http://h"})
    assert bound.script.variables["u"].description == "{{u}} is documentation, not a template"


def test_defaults_fill_variables_that_are_not_given() -> None:
    data = _script(
        {"action": "fill", "selector": "#name", "value": "{{name}}"},
        variables={"name": {"default": "Ada Lovelace"}},
    )
    (fill,) = _bound(data, {}).script.steps
    assert isinstance(fill, Fill)
    assert fill.value == "Ada Lovelace"


def test_given_value_overrides_default() -> None:
    data = _script(
        {"action": "fill", "selector": "#name", "value": "{{name}}"},
        variables={"name": {"default": "Ada Lovelace"}},
    )
    (fill,) = _bound(data, {"name": "Grace Hopper"}).script.steps
    assert isinstance(fill, Fill)
    assert fill.value == "Grace Hopper"


def test_secret_variables_are_collected_into_secrets() -> None:
    data = _script(
        {"action": "fill", "selector": "#user", "value": "{{user}}"},
        {"action": "fill", "selector": "#pw", "value": "{{password}}"},
        variables={"user": {"required": True}, "password": {"required": True, "secret": True}},
    )
    bound = _bound(data, {"user": "demo", "password": "s3cr3t-pw"})
    assert bound.secrets == frozenset({"s3cr3t-pw"})
    assert isinstance(bound.script.steps[1], Fill)
    assert bound.script.steps[1].value == "s3cr3t-pw"


def test_secret_default_is_collected_into_secrets() -> None:
    data = _script(
        {"action": "fill", "selector": "#pw", "value": "{{pin}}"},
        variables={"pin": {"secret": True, "default": "0000-default-pin"}},
    )
    assert _bound(data, {}).secrets == frozenset({"0000-default-pin"})


def test_env_secret_ref_is_resolved_and_becomes_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BA_TEST_TOKEN", "tok-from-env-42")
    data = _script(
        {"action": "fill", "selector": "#token", "value": "Bearer {{token}}"},
        # Not declared secret: a value given by reference is secret anyway.
        variables={"token": {"required": True}},
    )
    bound = _bound(data, {"token": SecretRef("env:BA_TEST_TOKEN")})
    (fill,) = bound.script.steps
    assert isinstance(fill, Fill)
    assert fill.value == "Bearer tok-from-env-42"
    assert bound.secrets == frozenset({"tok-from-env-42"})


@pytest.mark.parametrize(
    "ref",
    ["env:BA_TEST_UNSET_VARIABLE", "secretsmanager:prod/db#password", "env:", "vault:x"],
)
def test_unresolvable_secret_ref_is_invalid_input_without_values(
    monkeypatch: pytest.MonkeyPatch, ref: str
) -> None:
    monkeypatch.delenv("BA_TEST_UNSET_VARIABLE", raising=False)
    other_secret = "other-secret-value-77"
    data = _script(
        {"action": "fill", "selector": "#pw", "value": "{{password}}"},
        {"action": "fill", "selector": "#token", "value": "{{token}}"},
        variables={"password": {"secret": True}, "token": {}},
    )
    with pytest.raises(InvalidInput) as caught:
        _bound(data, {"password": other_secret, "token": SecretRef(ref)})
    message = str(caught.value)
    assert caught.value.code == "BrowserAgent.InvalidInput"
    assert ref.partition(":")[0] in message  # says which reference could not be resolved
    assert other_secret not in message
    assert other_secret not in repr(caught.value)


def test_secret_ref_repr_shows_the_reference_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BA_TEST_TOKEN", "tok-from-env-42")
    assert "tok-from-env-42" not in repr(SecretRef("env:BA_TEST_TOKEN"))


def test_bind_errors_name_every_problem() -> None:
    data = _script(
        {"action": "goto", "url": "{{missing}}"},
        {"action": "fill", "selector": "#a", "value": "{{ghost}}"},
        variables={"missing": {"required": True}},
    )
    with pytest.raises(ScriptValidationError) as caught:
        _bound(data, {"stray": "x"})
    problems = "\n".join(caught.value.problems)
    assert "variables.missing" in problems
    assert "steps[1].value: unknown variable 'ghost'" in problems
    assert "variables.stray" in problems


def test_parse_script_reports_every_problem_with_its_path() -> None:
    data = {
        "name": "two problems",
        "steps": [{"action": "click"}, {"action": "goto", "url": "{{bad name}}"}],
    }
    with pytest.raises(ScriptValidationError) as caught:
        parse_script(data)
    assert any(p.startswith("steps[0].selector") for p in caught.value.problems)
    assert any(p.startswith("steps[1].url") for p in caught.value.problems)


@pytest.mark.parametrize("name", ["..", ".hidden", "a/b", "a b"])
@pytest.mark.parametrize("action", ["screenshot", "extract"])
def test_artifact_names_that_are_no_file_names_are_refused(
    cli: Cli, action: str, name: str
) -> None:
    step = {"action": action, "name": name}
    if action == "extract":
        step["selector"] = "h1"
    bad = _script({"action": "goto", "url": "x"}, step)
    _assert_one_error(_run_bad(cli, json.dumps(bad)), "steps[1].name")
