"""The object key layout; nothing from task input reaches a key unsanitised."""

from __future__ import annotations

import re
import secrets
from datetime import date, datetime
from pathlib import Path

from agent.recording.manifest import MANIFEST_NAME

ROOT_PREFIX = "browser-sessions"
# browser-sessions/{env}/{YYYY}/{MM}/{DD}/{session_id}
SESSION_DEPTH = 6
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_ID_LENGTH = 128


def sanitize_id(value: str, *, fallback: str = "unnamed") -> str:
    """Reduce an id to `[A-Za-z0-9._-]`, with no dot-only names, at most 128 characters."""
    cleaned = _UNSAFE.sub("-", value).strip("-.")[:MAX_ID_LENGTH].strip("-.")
    return cleaned or fallback


def new_session_id(now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(6)}"


def session_prefix(env: str, started: datetime, session_id: str) -> str:
    """`browser-sessions/{env}/{YYYY}/{MM}/{DD}/{session_id}`."""
    return "/".join(
        (
            ROOT_PREFIX,
            sanitize_id(env),
            f"{started:%Y}",
            f"{started:%m}",
            f"{started:%d}",
            sanitize_id(session_id),
        )
    )


def is_session_manifest(key: str) -> bool:
    """Whether `key` (relative to the bucket or the store's folder) is a session's manifest,
    not an artifact that happens to be called manifest.json (an extract named `manifest`)."""
    parts = key.split("/")
    return (
        len(parts) == SESSION_DEPTH + 1 and parts[0] == ROOT_PREFIX and parts[-1] == MANIFEST_NAME
    )


def session_manifest_paths(
    root: Path, *, env: str = "*", day: date | None = None, session_id: str = "*"
) -> list[Path]:
    """Session manifests in a folder laid out like the bucket, oldest first. The glob stops at
    the layout's depth, so an artifact called manifest.json is never taken for a session and
    no artifact folder is walked. `env` and `session_id` are sanitised names (or `*`)."""
    dated = f"{day:%Y/%m/%d}" if day else "*/*/*"
    return sorted(root.glob(f"{ROOT_PREFIX}/{env}/{dated}/{session_id}/{MANIFEST_NAME}"))
