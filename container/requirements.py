"""Print the agent's requirements from pyproject.toml, one a line, for a pip requirements file.

The Dockerfile installs these in a layer of their own, before the agent's wheel, so a change to
the agent's code rebuilds only the small wheel layer and not the dependencies (~600 MB with the
`nova` extra).

    python3 requirements.py PYPROJECT [EXTRA,EXTRA…]
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

SELF = "browser-agent"


def requirements(pyproject: Path, extras: list[str]) -> list[str]:
    project = tomllib.loads(pyproject.read_text())["project"]
    optional = project.get("optional-dependencies", {})
    unknown = [extra for extra in extras if extra not in optional]
    if unknown:
        raise SystemExit(
            f"unknown extra(s) {', '.join(unknown)}; pyproject.toml has: {', '.join(optional)}"
        )
    wanted = list(project["dependencies"])
    for extra in extras:
        # An extra that names the project itself (e.g. "browser-agent[infra]") is skipped.
        wanted += [r for r in optional[extra] if not r.replace("_", "-").startswith(SELF)]
    return wanted


def main() -> None:
    if len(sys.argv) not in (2, 3):
        raise SystemExit(__doc__)
    extras = [e.strip() for e in (sys.argv[2] if len(sys.argv) == 3 else "").split(",")]
    print("\n".join(requirements(Path(sys.argv[1]), [e for e in extras if e])))


if __name__ == "__main__":
    main()
