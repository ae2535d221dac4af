"""A corpus of task inputs that must each end in BrowserAgent.InvalidInput with a clear cause."""

from __future__ import annotations

import json
from typing import Any

_STEP = {"action": "goto", "url": "http://127.0.0.1:9/"}
_SCRIPT: dict[str, Any] = {"name": "bad-input", "steps": [_STEP]}


def _script(**changes: Any) -> dict[str, Any]:
    return {**_SCRIPT, **changes}


def _envelope(tool_input: Any) -> dict[str, Any]:
    return {"tool_name": "browser", "tool_use_id": "tu-1", "tool_input": tool_input}


# (label, raw input text, a fragment the cause's message must contain)
MALFORMED: list[tuple[str, str, str]] = [
    ("not JSON", "this is not json", "not valid JSON"),
    ("truncated JSON", '{"name": "x", "steps": [', "not valid JSON"),
    ("JSON array", "[1, 2, 3]", "not an array"),
    ("JSON string", '"hello"', "not a string"),
    ("JSON number", "42", "not a number"),
    ("JSON null", "null", "not null"),
    ("empty object", "{}", "steps"),
    ("no steps", json.dumps({"name": "x"}), "steps"),
    ("empty steps", json.dumps(_script(steps=[])), "steps"),
    ("unknown action", json.dumps(_script(steps=[{"action": "teleport"}])), "unknown action"),
    ("step without action", json.dumps(_script(steps=[{"url": "x"}])), "action"),
    ("unknown script field", json.dumps(_script(colour="red")), "colour"),
    ("name is a number", json.dumps(_script(name=5)), "name"),
    ("steps is an object", json.dumps(_script(steps={"a": 1})), "steps"),
    ("goto without url", json.dumps(_script(steps=[{"action": "goto"}])), "url"),
    (
        "click selector is a list",
        json.dumps(_script(steps=[{"action": "click", "selector": []}])),
        "selector",
    ),
    ("timeout is negative", json.dumps(_script(steps=[{**_STEP, "timeout_ms": -1}])), "timeout_ms"),
    (
        "wait_for two targets",
        json.dumps(_script(steps=[{"action": "wait_for", "selector": "a", "text": "b"}])),
        "exactly one",
    ),
    (
        "malformed placeholder",
        json.dumps(_script(steps=[{"action": "goto", "url": "{{ bad-name }}"}])),
        "malformed placeholder",
    ),
    (
        "unknown variable used",
        json.dumps(_script(steps=[{"action": "goto", "url": "{{nope}}"}])),
        "unknown variable",
    ),
    (
        "missing required variable",
        json.dumps({"script": _script(variables={"who": {"required": True}})}),
        "required variable 'who'",
    ),
    ("variables is a list", json.dumps({"script": _SCRIPT, "variables": ["a"]}), "variables"),
    (
        "variable value is an object",
        json.dumps({"script": _script(variables={"v": {}}), "variables": {"v": {"x": 1}}}),
        "variables.v",
    ),
    (
        "unknown variable given",
        json.dumps({"script": _SCRIPT, "variables": {"ghost": "1"}}),
        "ghost",
    ),
    (
        "bad recording level",
        json.dumps({"script": _SCRIPT, "recording_level": "LOUD"}),
        "invalid recording level",
    ),
    ("script wrapper extra field", json.dumps({"script": _SCRIPT, "extra": 1}), "extra"),
    ("script wrapper holds a string", json.dumps({"script": "goto example.com"}), "script"),
    (
        "huge string",
        json.dumps(_script(steps=[{"action": "goto", "url": "x" * 50_000}])),
        "longer than",
    ),
    ("huge name", json.dumps(_script(name="n" * 5_000)), "name"),
    ("unknown template", json.dumps({"template": "no_such_template@1.0.0"}), "unknown template"),
    ("template path traversal", json.dumps({"template": "../../etc/passwd@1"}), "name@version"),
    ("template without version", json.dumps({"template": "results_table"}), "name@version"),
    ("template is a number", json.dumps({"template": 7}), "template"),
    ("nested envelopes", json.dumps(_envelope(_envelope(_SCRIPT))), "another envelope"),
    ("envelope unknown field", json.dumps({**_envelope(_SCRIPT), "surprise": True}), "surprise"),
    ("envelope tool_input is a string", json.dumps(_envelope("run it")), "not a string"),
    (
        "envelope tool_input invalid script",
        json.dumps(_envelope(_script(steps=[{"action": "fly"}]))),
        "unknown action",
    ),
    (
        "secret ref to a missing variable",
        json.dumps(
            {
                "script": _script(variables={"p": {"secret": True}}),
                "variables": {"p": {"secret_ref": "env:BROWSER_AGENT_TEST_UNSET_SECRET"}},
            }
        ),
        "not set",
    ),
]
