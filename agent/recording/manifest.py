"""`manifest.json`: what a kept session holds (spec 4.4)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from agent.result import RunError, StepResult

SCHEMA_VERSION = "1"
MANIFEST_NAME = "manifest.json"


class ArtifactRecord(BaseModel):
    key: str  # path inside the session folder, '/'-separated
    type: str  # screenshot, html, extract, error, video, trace, har, console
    step: int | None = None
    roles: list[str] = Field(default_factory=list)
    bytes: int
    sha256: str
    content_type: str

    @classmethod
    def of_file(
        cls,
        session_dir: Path,
        path: Path,
        *,
        type: str,
        step: int | None,
        roles: list[str],
        content_type: str,
    ) -> ArtifactRecord:
        data = path.read_bytes()
        return cls(
            key=path.relative_to(session_dir).as_posix(),
            type=type,
            step=step,
            roles=roles,
            bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            content_type=content_type,
        )


class TypeTotal(BaseModel):
    count: int = 0
    bytes: int = 0


class SessionManifest(BaseModel):
    schema_version: str = SCHEMA_VERSION
    session_id: str
    task_id: str | None = None
    script: str
    script_version: str
    agent_name: str
    env: str
    level: str
    level_source: str
    started_at: datetime
    ended_at: datetime
    outcome: str  # "succeeded" or "failed"
    error: RunError | None = None
    steps: list[StepResult]
    artifacts: list[ArtifactRecord]
    totals: dict[str, TypeTotal]
    dropped: list[dict[str, Any]] = Field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return sum(a.bytes for a in self.artifacts)

    @staticmethod
    def totals_of(artifacts: list[ArtifactRecord]) -> dict[str, TypeTotal]:
        totals: dict[str, TypeTotal] = {}
        for artifact in artifacts:
            total = totals.setdefault(artifact.type, TypeTotal())
            total.count += 1
            total.bytes += artifact.bytes
        return totals

    def to_json(self) -> str:
        return self.model_dump_json(indent=2, exclude_none=True)
