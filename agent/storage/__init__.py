"""Stores for finished sessions: a local folder, and (with a bucket) S3 through a spool."""

from agent.storage.base import ArtifactStore, StoredSession
from agent.storage.keys import new_session_id, sanitize_id, session_prefix
from agent.storage.local import LocalFolderStore

__all__ = [
    "ArtifactStore",
    "LocalFolderStore",
    "StoredSession",
    "new_session_id",
    "sanitize_id",
    "session_prefix",
]
