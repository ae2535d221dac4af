"""Uploading a complete session folder to S3, object by object, the manifest last.

Each object goes through boto3's transfer manager (multipart above a threshold, concurrent
parts) with a SHA-256 checksum that S3 verifies, the configured server-side encryption, the
session's metadata and the `recording-level` tag. A successful answer to a request that carried
our checksum is S3's confirmation; only `s3:PutObject` and `s3:PutObjectTagging` are needed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import BotoCoreError, ClientError

from agent.errors import UploadError
from agent.recording.manifest import MANIFEST_NAME, SessionManifest
from agent.storage.keys import sanitize_id

MiB = 1024 * 1024


@dataclass(frozen=True)
class S3Options:
    bucket: str
    multipart_threshold: int = 8 * MiB
    multipart_chunksize: int = 8 * MiB
    max_concurrency: int = 4
    server_side_encryption: str | None = "AES256"  # "AES256", "aws:kms", or None
    kms_key_id: str | None = None


class S3Uploader:
    def __init__(self, client: Any, options: S3Options) -> None:
        self.client = client
        self.options = options
        self.transfer = TransferConfig(
            multipart_threshold=options.multipart_threshold,
            multipart_chunksize=options.multipart_chunksize,
            max_concurrency=options.max_concurrency,
            use_threads=options.max_concurrency > 1,
        )

    def uri(self, key: str) -> str:
        return f"s3://{self.options.bucket}/{key}"

    def upload_session(
        self, session_dir: Path, prefix: str, done: set[str], on_confirmed: Callable[[str], None]
    ) -> None:
        """Upload every artifact not in `done`, then the manifest; call `on_confirmed` per key."""
        manifest = SessionManifest.model_validate_json(
            (session_dir / MANIFEST_NAME).read_text(encoding="utf-8")
        )
        extra = self._extra_args(manifest)
        files = [(a.key, a.content_type) for a in manifest.artifacts]
        files.append((MANIFEST_NAME, "application/json"))
        for name, content_type in files:
            key = f"{prefix}/{name}"
            if key in done:
                continue
            path = session_dir / name
            if not path.exists() and name != MANIFEST_NAME:
                continue  # dropped by the spool's size bound; the manifest says so
            self._put(path, key, {**extra, "ContentType": content_type})
            on_confirmed(key)

    def _put(self, path: Path, key: str, extra: dict[str, Any]) -> None:
        try:
            self.client.upload_file(
                str(path), self.options.bucket, key, ExtraArgs=extra, Config=self.transfer
            )
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise UploadError(
                key, error.get("Code", "ClientError"), error.get("Message", "")
            ) from exc
        except Exception as exc:  # S3UploadFailedError wraps ClientError; network errors too
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, ClientError):
                error = cause.response.get("Error", {})
                raise UploadError(key, error.get("Code", "ClientError"), str(exc)) from exc
            kind = type(cause or exc).__name__
            if isinstance(exc, BotoCoreError | OSError) or cause is not None:
                raise UploadError(key, kind, str(exc)) from exc
            raise

    def _extra_args(self, manifest: SessionManifest) -> dict[str, Any]:
        extra: dict[str, Any] = {
            "Metadata": {
                "task_id": sanitize_id(manifest.task_id or "none"),
                "script": sanitize_id(manifest.script),
                "recording_level": manifest.level,
            },
            "Tagging": f"recording-level={quote(manifest.level)}",
            "ChecksumAlgorithm": "SHA256",
        }
        if self.options.server_side_encryption:
            extra["ServerSideEncryption"] = self.options.server_side_encryption
            if self.options.kms_key_id:
                extra["SSEKMSKeyId"] = self.options.kms_key_id
        return extra
