"""What the Nova Act SDK writes for each act (its logs_directory): collected, renamed, and
made safe to keep. The recorder keeps them at TRACE level only, and scrubs them of secrets.

The SDK names its files after the first words of the prompt (which may hold a secret), so they
get fixed names. Its HTML and trajectory files embed the model's screenshots of the page; in a
run with secret values those are dropped, since a secret typed into a plain text field or shown
on the page cannot be scrubbed out of pixels.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

_SUFFIXES = (  # most specific first
    ("_trajectory.json", "trajectory.json", "application/json"),
    ("_traces.json", "traces.json", "application/json"),
    ("session_summary.json", "session-summary.json", "application/json"),
    (".html", "act.html", "text/html; charset=utf-8"),
)
_IMAGE_DATA_URL = re.compile(rb"data:image/[A-Za-z0-9.+-]+;base64,[A-Za-z0-9+/=\\\s]*")
_IMAGE_DROPPED = b"data:,screenshot-dropped-in-a-run-with-secrets"


@dataclass(frozen=True)
class ActTraceFile:
    name: str
    data: bytes
    content_type: str


def collect_act_traces(logs_dir: Path, *, keep_folder: bool = False) -> list[ActTraceFile]:
    """Every file the SDK wrote under `logs_dir`, read into memory and deleted; the folder is
    removed too, unless the session goes on (`keep_folder`: the SDK writes its next act's
    files into the folders it made when the session started)."""
    files: list[ActTraceFile] = []
    try:
        for path in sorted(p for p in logs_dir.rglob("*") if p.is_file()):
            name, content_type = _kept_name(path.name, len(files))
            if any(f.name == name for f in files):
                name = f"{len(files) + 1}-{name}"
            files.append(ActTraceFile(name, path.read_bytes(), content_type))
            if keep_folder:
                path.unlink(missing_ok=True)
    finally:
        if not keep_folder:
            shutil.rmtree(logs_dir, ignore_errors=True)
    return files


def without_screenshots(data: bytes) -> bytes:
    return _IMAGE_DATA_URL.sub(_IMAGE_DROPPED, data)


def _kept_name(name: str, index: int) -> tuple[str, str]:
    for suffix, kept, content_type in _SUFFIXES:
        if name.endswith(suffix):
            return kept, content_type
    return f"file-{index + 1}.bin", "application/octet-stream"
