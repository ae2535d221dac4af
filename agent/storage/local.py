"""The local-folder store: the default when no bucket is configured."""

from __future__ import annotations

import shutil
from pathlib import Path

from agent.storage.base import StoredSession


class LocalFolderStore:
    """Keeps sessions under `root/{key layout}`; a session appears there only when complete."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def put_session(self, session_dir: Path, prefix: str) -> StoredSession:
        target = self.root / prefix
        if session_dir.resolve() != target.resolve():
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                shutil.rmtree(target)
            session_dir.replace(target)
        return StoredSession((target / "manifest.json").resolve().as_uri(), "none")
