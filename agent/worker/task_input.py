"""The four task input forms of spec section 3, parsed into one `TaskRequest`.

1. a script object;
2. `{"script": {...}, "variables": {...}, "recording_level": "DEBUG"}`;
3. `{"template": "name@version", "variables": {...}, "recording_level": ...}`;
4. the tool envelope `{"tool_name", "tool_use_id", "tool_input": <1-3>, "timestamp", "context"}`.

Every problem is an `InvalidInput` whose message says what is wrong and where.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agent.errors import InvalidInput, ScriptValidationError
from agent.levels import RecordingLevel
from agent.script import Script, VariableValue, parse_script
from agent.script.variables import parse_variable_value, walk_strings
from agent.worker.templates import TemplateSource

# No legitimate selector, URL or prompt is this long; a longer string is a broken input.
MAX_STRING_CHARS = 10_000
ENVELOPE_KEYS = frozenset({"tool_name", "tool_use_id", "tool_input", "timestamp", "context"})
WRAPPED_SCRIPT_KEYS = frozenset({"script", "variables", "recording_level"})
TEMPLATE_KEYS = frozenset({"template", "variables", "recording_level"})


@dataclass(frozen=True)
class TaskRequest:
    """What a task asks for, whichever form it came in."""

    script: Script
    variables: dict[str, VariableValue] = field(default_factory=dict)
    recording_level: str | None = None
    # The tool envelope (form 4) without its tool_input; the answer goes back inside it.
    envelope: dict[str, Any] | None = None


def parse_task_input(raw: str, templates: TemplateSource | None) -> TaskRequest:
    data = _decode(raw)
    _check_string_sizes(data)
    if isinstance(data, dict) and "tool_input" in data:
        return _parse_envelope(data, templates)
    return _parse_request(data, templates, where="input")


def _decode(raw: str) -> Any:
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, TypeError) as exc:
        detail = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise InvalidInput(f"task input is not valid JSON: {detail}") from None


def _check_string_sizes(data: Any) -> None:
    for path, text in walk_strings(data, ""):
        if len(text) > MAX_STRING_CHARS:
            raise InvalidInput(
                f"{path or 'input'}: a string of {len(text):,} characters is longer than the "
                f"{MAX_STRING_CHARS:,} allowed"
            )


def _parse_envelope(data: dict[str, Any], templates: TemplateSource | None) -> TaskRequest:
    unknown = sorted(set(data) - ENVELOPE_KEYS)
    if unknown:
        raise InvalidInput(
            f"tool envelope: unknown field(s) {', '.join(unknown)}; expected "
            f"{', '.join(sorted(ENVELOPE_KEYS))}"
        )
    inner = data["tool_input"]
    if isinstance(inner, dict) and "tool_input" in inner:
        raise InvalidInput("tool_input: a tool envelope cannot hold another envelope")
    request = _parse_request(inner, templates, where="tool_input")
    envelope = {key: value for key, value in data.items() if key != "tool_input"}
    return TaskRequest(request.script, request.variables, request.recording_level, envelope)


def _parse_request(data: Any, templates: TemplateSource | None, *, where: str) -> TaskRequest:
    if not isinstance(data, dict):
        raise InvalidInput(
            f"{where}: expected a JSON object (a script, {{'script': …}}, {{'template': …}} or "
            f"a tool envelope), not {_json_type(data)}"
        )
    if "template" in data:
        _reject_unknown(data, TEMPLATE_KEYS, where)
        script = _template(data["template"], templates, where)
    elif "script" in data:
        _reject_unknown(data, WRAPPED_SCRIPT_KEYS, where)
        script = _script(data["script"], f"{where}.script")
    else:
        return TaskRequest(_script(data, where))
    return TaskRequest(
        script,
        _variables(data.get("variables"), f"{where}.variables"),
        _level(data.get("recording_level"), f"{where}.recording_level"),
    )


def _reject_unknown(data: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InvalidInput(
            f"{where}: unknown field(s) {', '.join(unknown)}; expected {', '.join(sorted(allowed))}"
        )


def _script(data: Any, where: str) -> Script:
    try:
        return parse_script(data)
    except ScriptValidationError as exc:
        raise ScriptValidationError(exc.problems, source=where) from None


def _template(reference: Any, templates: TemplateSource | None, where: str) -> Script:
    if not isinstance(reference, str):
        raise InvalidInput(
            f'{where}.template: expected "name@version", not {_json_type(reference)}'
        )
    if templates is None:
        raise InvalidInput(
            f"{where}.template: this agent has no template source configured "
            "(setting worker.template_source)"
        )
    return _script(templates.load(reference), f"template {reference}")


def _variables(data: Any, where: str) -> dict[str, VariableValue]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidInput(f"{where}: expected an object of NAME: value, not {_json_type(data)}")
    try:
        return {str(name): parse_variable_value(str(name), raw) for name, raw in data.items()}
    except InvalidInput as exc:
        raise InvalidInput(f"{where.rsplit('.', 1)[0]}.{exc.message}") from None


def _level(value: Any, where: str) -> str | None:
    if value is None:
        return None
    try:
        RecordingLevel.parse(value, where=where)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    return str(value)


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a number"
    return names.get(type(value), type(value).__name__)
