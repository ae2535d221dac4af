"""Files shipped with the agent: `settings.toml` and `examples/`.

They live at the top of the repository; a built wheel carries them in `agent/bundled/`.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def bundled_path(name: str) -> Path:
    installed = _PACKAGE / "bundled" / name
    return installed if installed.exists() else _PACKAGE.parent / name


def examples_dir() -> Path:
    return bundled_path("examples")
