"""The result of a run (spec section 2), shared by the executor, the recorder and the worker."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

StepStatus = Literal["ok", "failed", "skipped"]
# "none": nothing goes to S3, either because nothing was kept or because no bucket is set and
# the session lives in the local-folder store (then `manifest_uri` is a file:// URI).
UploadStatus = Literal["uploaded", "pending", "none"]


class StepResult(BaseModel):
    n: int
    action: str
    description: str | None = None
    status: StepStatus
    duration_ms: int = 0
    error: str | None = None
    output: Any = None


class RunError(BaseModel):
    code: str
    message: str
    step: int | None = None


class RecordingSummary(BaseModel):
    level: str
    level_source: str
    manifest_uri: str | None = None
    artifacts: int = 0
    bytes: int = 0
    upload_status: UploadStatus = "none"


class RunResult(BaseModel):
    success: bool
    script: str
    version: str
    session_id: str
    steps: list[StepResult] = Field(default_factory=list)
    outputs: dict[str, Any] = Field(default_factory=dict)
    error: RunError | None = None
    recording: RecordingSummary

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)
