"""The local settings file `browser-agent setup` writes: TOML, a layer of the settings.

`[default] env` names the environment set up last (so plain `browser-agent run` uses it); the
discovered values go under that environment's section. Never credentials: a profile *name* at
most.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agent.config import SETTINGS_FILE_VAR
from agent.errors import ConfigurationError

DEFAULT_PATH = "~/.config/browser-agent/settings.toml"
HEADER = (
    "# browser-agent local settings, written by `browser-agent setup`; a layer over\n"
    "# settings.toml (see `browser-agent config show`). Never put credentials here.\n"
)


def settings_file_path(explicit: Path | None, environ: Mapping[str, str]) -> Path:
    if explicit is not None:
        return explicit
    if environ.get(SETTINGS_FILE_VAR):
        return Path(environ[SETTINGS_FILE_VAR])
    return Path(DEFAULT_PATH).expanduser()


def write_settings(path: Path, env: str, values: Mapping[str, str]) -> None:
    """Merge `values` (dotted keys) into the `[env]` section, set `[default] env`, keep the
    rest of the file's settings."""
    data = _read(path)
    default = data.setdefault("default", {})
    default["env"] = env
    section = data.setdefault(env, {})
    for dotted, value in values.items():
        *parents, leaf = dotted.split(".")
        node = section
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(HEADER + render_toml(data), encoding="utf-8")
    os.replace(temporary, path)


def _read(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(
            f"settings file {path} is not valid TOML ({exc}): fix or remove it"
        ) from None


def render_toml(data: Mapping[str, Any], prefix: str = "") -> str:
    """TOML for nested tables of strings, numbers, booleans and arrays of those."""
    scalars = [(k, v) for k, v in data.items() if not isinstance(v, dict)]
    tables = [(k, v) for k, v in data.items() if isinstance(v, dict)]
    lines = [f"{_key(k)} = {_value(v)}" for k, v in scalars]
    out = ""
    if prefix and (lines or not tables):
        out += f"\n[{prefix}]\n" + "".join(line + "\n" for line in lines)
    elif lines:
        out += "".join(line + "\n" for line in lines)
    for key, table in tables:
        out += render_toml(table, f"{prefix}.{_key(key)}" if prefix else _key(key))
    return out


def _key(key: str) -> str:
    bare = key.replace("_", "").replace("-", "").isalnum() and key.isascii()
    return key if bare else json.dumps(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return json.dumps(str(value))
