"""`{{name}}` placeholders, substituted inside each string value, and secret variables."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from agent.errors import InvalidInput, ScriptValidationError
from agent.script.model import VARIABLE_NAME, Script

PLACEHOLDER = re.compile(r"\{\{\s*(" + VARIABLE_NAME.pattern + r")\s*\}\}")
_BRACES = re.compile(r"\{\{|\}\}")


@dataclass(frozen=True)
class SecretRef:
    """A variable whose value is looked up at run time: `env:NAME` or `secretsmanager:id#key`."""

    ref: str

    def __repr__(self) -> str:
        return f"SecretRef({self.ref!r})"


VariableValue = str | SecretRef
SecretResolver = Callable[[str], str]


@dataclass(frozen=True)
class BoundScript:
    """A script with every placeholder replaced, and the secret values it now holds."""

    script: Script
    secrets: frozenset[str]


def parse_variable_value(name: str, raw: object) -> VariableValue:
    """Accept a string, a number or boolean (as text), or `{"secret_ref": "..."}`."""
    if isinstance(raw, str):
        return raw
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, int | float):
        return str(raw)
    if isinstance(raw, dict) and set(raw) == {"secret_ref"} and isinstance(raw["secret_ref"], str):
        return SecretRef(raw["secret_ref"])
    raise InvalidInput(
        f"variables.{name}: a value must be a string, a number, a boolean or "
        '{"secret_ref": "env:NAME" | "secretsmanager:id#key"}'
    )


def resolve_env_secret(ref: str) -> str:
    """The resolver used when no AWS resolver is given: only `env:NAME` references."""
    kind, _, name = ref.partition(":")
    if kind != "env" or not name:
        raise InvalidInput(
            f"secret reference {ref!r} cannot be resolved here; use env:NAME"
            " (secretsmanager: references need the AWS-backed resolver)"
        )
    if name not in os.environ:
        raise InvalidInput(f"secret reference {ref!r}: environment variable {name} is not set")
    return os.environ[name]


def walk_strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every string value inside nested dicts and lists, with its field path."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from walk_strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from walk_strings(item, f"{path}[{index}]")


def _templated_parts(data: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of a script whose strings may hold placeholders."""
    return {key: data[key] for key in ("starting_page", "steps") if key in data}


def placeholder_problems(data: Mapping[str, Any]) -> list[str]:
    """Malformed placeholders, reported with their field path."""
    problems = []
    for path, text in walk_strings(_templated_parts(data), ""):
        leftover = PLACEHOLDER.sub("", text)
        if _BRACES.search(leftover):
            problems.append(
                f"{path}: malformed placeholder in {_excerpt(text)}; write {{{{name}}}} with "
                "letters, digits and underscores"
            )
    return problems


def bind(
    script: Script,
    given: Mapping[str, VariableValue],
    resolve_secret: SecretResolver = resolve_env_secret,
) -> BoundScript:
    """Check the variables against the script and substitute them into every string."""
    data = script.model_dump(by_alias=True, exclude_unset=True)
    used = {
        (path, match.group(1))
        for path, text in walk_strings(_templated_parts(data), "")
        for match in PLACEHOLDER.finditer(text)
    }
    problems = _variable_problems(script, given, used)
    if problems:
        raise ScriptValidationError(problems)

    values: dict[str, str] = {}
    secrets: set[str] = set()
    for name in {name for _, name in used} | set(given):
        value = given.get(name, script.variables.get(name, _NO_SPEC).default)
        if isinstance(value, SecretRef):
            value = resolve_secret(value.ref)
            secrets.add(value)
        elif value is not None and name in script.secret_names:
            secrets.add(value)
        if value is not None:
            values[name] = value

    rendered = dict(data)
    rendered.update(_substitute(_templated_parts(data), values))
    return BoundScript(Script.model_validate(rendered), frozenset(secrets))


def _variable_problems(
    script: Script, given: Mapping[str, VariableValue], used: set[tuple[str, str]]
) -> list[str]:
    declared = script.variables
    problems = []
    for name, spec in declared.items():
        if spec.required and name not in given and spec.default is None:
            problems.append(f"variables.{name}: required variable '{name}' is missing")
    for path, name in sorted(used):
        if name in given or (name in declared and declared[name].required):
            continue
        if name not in declared:
            problems.append(f"{path}: unknown variable '{name}' ({_declared(declared)})")
        elif declared[name].default is None:
            problems.append(f"{path}: variable '{name}' has no value and no default")
    used_names = {name for _, name in used}
    for name in given:
        if name not in declared and name not in used_names:
            problems.append(
                f"variables.{name}: unknown variable '{name}' is given but the script neither "
                f"declares nor uses it ({_declared(declared)})"
            )
    return problems


def _substitute(value: Any, values: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return PLACEHOLDER.sub(lambda m: values[m.group(1)], value)
    if isinstance(value, dict):
        return {key: _substitute(item, values) for key, item in value.items()}
    if isinstance(value, list):
        return [_substitute(item, values) for item in value]
    return value


def _declared(declared: Mapping[str, object]) -> str:
    return "declared: " + ", ".join(sorted(declared)) if declared else "the script declares none"


def _excerpt(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")


class _NoSpec:
    default = None


_NO_SPEC = _NoSpec()
