"""Where finished sessions go."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from agent.result import UploadStatus


@dataclass(frozen=True)
class StoredSession:
    manifest_uri: str
    upload_status: UploadStatus


class ArtifactStore(Protocol):
    """Takes a session folder that is complete on local disk (artifacts, then manifest.json)."""

    def put_session(self, session_dir: Path, prefix: str) -> StoredSession: ...
