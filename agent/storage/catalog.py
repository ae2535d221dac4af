"""Reading recordings back (for people, with their own read/list permissions; the agent's role
has none): list, show, download, presigned links. Works on the bucket or a local folder."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from agent.errors import SessionNotFound
from agent.recording.manifest import MANIFEST_NAME, SessionManifest
from agent.storage.keys import (
    ROOT_PREFIX,
    is_session_manifest,
    sanitize_id,
    session_manifest_paths,
)

_DATED_ID = re.compile(r"^(\d{4})(\d{2})(\d{2})T\d{6}Z-")


@dataclass(frozen=True)
class RecordedSession:
    manifest: SessionManifest
    location: str  # s3://bucket/prefix or a folder path
    prefix: str  # the session's key prefix


class RecordingsCatalog(Protocol):
    def sessions(self, day: date | None = None) -> Iterator[RecordedSession]: ...
    def find(self, session_id: str) -> RecordedSession: ...
    def download(self, session: RecordedSession, target: Path) -> list[Path]: ...


def _day_prefix(env: str, day: date | None) -> str:
    base = f"{ROOT_PREFIX}/{sanitize_id(env)}/"
    return base + f"{day:%Y/%m/%d}/" if day else base


def _day_of(session_id: str) -> date | None:
    """Session ids the agent generates start with their UTC date: search only that day."""
    match = _DATED_ID.match(session_id)
    return date(*(int(g) for g in match.groups())) if match else None


def _search_prefix(env: str, session_id: str) -> str:
    return _day_prefix(env, _day_of(session_id))


class LocalCatalog:
    def __init__(self, root: Path, env: str) -> None:
        self.root = root
        self.env = env

    def sessions(self, day: date | None = None) -> Iterator[RecordedSession]:
        for path in session_manifest_paths(self.root, env=sanitize_id(self.env), day=day):
            yield self._load(path)

    def find(self, session_id: str) -> RecordedSession:
        wanted = sanitize_id(session_id)
        env, day = sanitize_id(self.env), _day_of(wanted)
        for path in session_manifest_paths(self.root, env=env, day=day, session_id=wanted):
            return self._load(path)
        raise SessionNotFound(f"no session {wanted!r} under {self.root / _day_prefix(env, day)}")

    def _load(self, path: Path) -> RecordedSession:
        manifest = SessionManifest.model_validate_json(path.read_text(encoding="utf-8"))
        prefix = path.parent.relative_to(self.root).as_posix()
        return RecordedSession(manifest, str(path.parent), prefix)

    def download(self, session: RecordedSession, target: Path) -> list[Path]:
        import shutil

        source = Path(session.location)
        copied = []
        for artifact in [*session.manifest.artifacts]:
            destination = target / artifact.key
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / artifact.key, destination)
            copied.append(destination)
        shutil.copy2(source / MANIFEST_NAME, target / MANIFEST_NAME)
        return [*copied, target / MANIFEST_NAME]


class S3Catalog:
    def __init__(self, client: Any, bucket: str, env: str) -> None:
        self.client = client
        self.bucket = bucket
        self.env = env

    def _manifest_keys(self, prefix: str) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                if is_session_manifest(item["Key"]):
                    yield item["Key"]

    def _load(self, key: str) -> RecordedSession:
        body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        prefix = key.rsplit("/", 1)[0]
        return RecordedSession(
            SessionManifest.model_validate_json(body), f"s3://{self.bucket}/{prefix}", prefix
        )

    def sessions(self, day: date | None = None) -> Iterator[RecordedSession]:
        for key in self._manifest_keys(_day_prefix(self.env, day)):
            yield self._load(key)

    def find(self, session_id: str) -> RecordedSession:
        wanted = sanitize_id(session_id)
        prefix = _search_prefix(self.env, wanted)
        for key in self._manifest_keys(prefix):
            if key.endswith(f"/{wanted}/{MANIFEST_NAME}"):
                return self._load(key)
        raise SessionNotFound(f"no session {wanted!r} under s3://{self.bucket}/{prefix}")

    def download(self, session: RecordedSession, target: Path) -> list[Path]:
        names = [a.key for a in session.manifest.artifacts] + [MANIFEST_NAME]
        paths = []
        for name in names:
            destination = target / name
            destination.parent.mkdir(parents=True, exist_ok=True)
            self.client.download_file(self.bucket, f"{session.prefix}/{name}", str(destination))
            paths.append(destination)
        return paths

    def links(self, session: RecordedSession, expiry_s: int) -> dict[str, str]:
        names = [a.key for a in session.manifest.artifacts] + [MANIFEST_NAME]
        return {
            name: self.client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": f"{session.prefix}/{name}"},
                ExpiresIn=expiry_s,
            )
            for name in names
        }
