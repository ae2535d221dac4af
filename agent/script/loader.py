"""Reading scripts from JSON with one clear message per problem, each naming its field path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from agent.errors import ScriptValidationError
from agent.script.model import ACTIONS, Script
from agent.script.variables import placeholder_problems


def load_script_file(path: Path) -> Script:
    """Read and validate a script file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScriptValidationError(["file not found"], source=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScriptValidationError([f"cannot read the file: {exc}"], source=str(path)) from None
    return parse_script(decode_json(text, source=str(path)), source=str(path))


def decode_json(text: str, *, source: str | None = None) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        problem = f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        raise ScriptValidationError([problem], source=source) from None


def parse_script(data: object, *, source: str | None = None) -> Script:
    """Validate a decoded script; every problem is reported with its field path."""
    if not isinstance(data, dict):
        raise ScriptValidationError(
            [f"a script must be a JSON object, not {type(data).__name__}"], source=source
        )
    problems = placeholder_problems(data)
    try:
        script = Script.model_validate(data)
    except ValidationError as exc:
        problems = [_describe(error) for error in exc.errors()] + problems
        raise ScriptValidationError(problems, source=source) from None
    if problems:
        raise ScriptValidationError(problems, source=source)
    return script


def _describe(error: ErrorDetails) -> str:
    path = format_path(_without_action_tags(error["loc"]))
    kind = error["type"]
    if kind == "missing":
        return f"{path}: required field is missing"
    if kind == "extra_forbidden":
        return f"{path}: unknown field"
    if kind == "union_tag_invalid":
        tag = error.get("ctx", {}).get("tag")
        return f"{path}.action: unknown action {tag!r}; expected one of: {', '.join(ACTIONS)}"
    if kind == "union_tag_not_found":
        return f"{path}.action: required field is missing; expected one of: {', '.join(ACTIONS)}"
    message = error["msg"].removeprefix("Value error, ")
    return f"{path}: {message}" if path else message


def _without_action_tags(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """Drop the discriminator tag pydantic puts after a step index (`steps.2.click.selector`)."""
    kept: list[int | str] = []
    for index, part in enumerate(loc):
        after_step = index >= 2 and loc[index - 2] == "steps" and isinstance(loc[index - 1], int)
        if after_step and part in ACTIONS:
            continue
        kept.append(part)
    return tuple(kept)


def format_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path
