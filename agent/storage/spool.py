"""The durable upload spool: a session is complete on local disk first, then uploaded.

A session folder under `spool_dir/browser-sessions/…` that holds a `manifest.json` is pending
until every object is confirmed by S3; `.upload-state.json` beside it lists the confirmed keys
so that a restart resumes where it stopped and sends nothing twice. Only then is the folder
removed. A spool over its size bound drops the lowest-value artifacts of pending sessions
first (video, then trace, then HTML) and records each drop in that session's manifest.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from pathlib import Path

from loguru import logger

from agent.errors import UploadError
from agent.recording.manifest import MANIFEST_NAME, SessionManifest
from agent.storage.base import StoredSession
from agent.storage.keys import ROOT_PREFIX, session_manifest_paths
from agent.storage.local import LocalFolderStore
from agent.storage.s3 import S3Uploader

STATE_NAME = ".upload-state.json"
DROP_ORDER = ("video", "trace", "har", "html")


class UploadSpool:
    """An ArtifactStore that spools to local disk and uploads to S3."""

    def __init__(self, spool_dir: Path, uploader: S3Uploader, max_bytes: int | None = None):
        self.spool_dir = spool_dir
        self.uploader = uploader
        self.max_bytes = max_bytes
        self._local = LocalFolderStore(spool_dir)
        self._lock = threading.Lock()  # one upload of a given session at a time

    def put_session(self, session_dir: Path, prefix: str) -> StoredSession:
        self._local.put_session(session_dir, prefix)
        self.enforce_size_bound()
        uploaded = self.upload(self.spool_dir / prefix, prefix)
        uri = self.uploader.uri(f"{prefix}/{MANIFEST_NAME}")
        return StoredSession(uri, "uploaded" if uploaded else "pending")

    def pending(self) -> list[tuple[Path, str]]:
        """Complete sessions still on disk, oldest first, with their key prefixes."""
        found = [m.parent for m in session_manifest_paths(self.spool_dir)]
        return [(d, d.relative_to(self.spool_dir).as_posix()) for d in found]

    def upload(self, session_dir: Path, prefix: str) -> bool:
        """Upload one session; True once every object is confirmed and the folder is gone."""
        with self._lock:
            if not (session_dir / MANIFEST_NAME).exists():
                return not session_dir.exists()
            done = _read_state(session_dir)
            try:
                self.uploader.upload_session(
                    session_dir, prefix, done, lambda key: _confirm(session_dir, done, key)
                )
            except UploadError as exc:
                logger.warning(
                    "upload of session {} is pending: {} ({}); it stays in the spool at {}",
                    session_dir.name,
                    exc.reason,
                    exc,
                    session_dir,
                )
                return False
            except (ValueError, OSError) as exc:  # an unreadable manifest: not S3's fault
                logger.error(
                    "session {} cannot be uploaded: {}: {}; it stays in the spool at {}",
                    session_dir.name,
                    type(exc).__name__,
                    " ".join(str(exc).split())[:300],
                    session_dir,
                )
                return False
            shutil.rmtree(session_dir)
            logger.info("session {} uploaded to {}", session_dir.name, self.uploader.uri(prefix))
            return True

    def resume(self) -> int:
        """Try every pending session once; the number uploaded."""
        return sum(self.upload(d, prefix) for d, prefix in self.pending())

    def flush(self, timeout_s: float, retry_interval_s: float = 2.0) -> bool:
        """Keep trying the pending sessions until all are uploaded or time runs out."""
        deadline = time.monotonic() + timeout_s
        while True:
            self.resume()
            if not self.pending():
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(retry_interval_s, remaining))

    def size(self) -> int:
        root = self.spool_dir / ROOT_PREFIX
        return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) if root.exists() else 0

    def enforce_size_bound(self) -> None:
        if self.max_bytes is None:
            return
        excess = self.size() - self.max_bytes
        if excess <= 0:
            return
        pending = self.pending()  # drops change what a session holds, not which are pending
        for kind in DROP_ORDER:
            for session_dir, _ in pending:
                if excess <= 0:
                    return
                try:
                    excess -= _drop(session_dir, kind)
                except (ValueError, OSError) as exc:
                    logger.error("cannot drop {} of {}: {}", kind, session_dir, exc)
        if excess > 0:
            logger.warning("the spool is {} bytes over its bound with nothing left to drop", excess)


def _drop(session_dir: Path, kind: str) -> int:
    """Delete one kind of artifact not yet uploaded; record it in the manifest. Bytes freed."""
    path = session_dir / MANIFEST_NAME
    manifest = SessionManifest.model_validate_json(path.read_text(encoding="utf-8"))
    done = _read_state(session_dir)
    freed = 0
    for artifact in manifest.artifacts:
        file = session_dir / artifact.key
        uploaded = any(k.endswith(f"/{artifact.key}") for k in done)
        if artifact.type != kind or not file.exists() or uploaded:
            continue
        freed += file.stat().st_size
        file.unlink()
        manifest.dropped.append(
            {"key": artifact.key, "type": kind, "bytes": artifact.bytes, "reason": "spool full"}
        )
        logger.warning(
            "spool full: dropped {} ({} bytes) of session {}",
            artifact.key,
            artifact.bytes,
            session_dir.name,
        )
    if freed:
        manifest.artifacts = [a for a in manifest.artifacts if (session_dir / a.key).exists()]
        manifest.totals = SessionManifest.totals_of(manifest.artifacts)
        _write_atomically(path, manifest.to_json())
    return freed


def _read_state(session_dir: Path) -> set[str]:
    try:
        return set(json.loads((session_dir / STATE_NAME).read_text())["confirmed"])
    except (FileNotFoundError, ValueError, KeyError):
        return set()


def _confirm(session_dir: Path, done: set[str], key: str) -> None:
    done.add(key)
    _write_atomically(session_dir / STATE_NAME, json.dumps({"confirmed": sorted(done)}))


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(path)
