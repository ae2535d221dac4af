"""Where `{"template": "name@version"}` is looked up: a local folder or an S3 prefix.

Layout in both: `{root}/{name}/{version}.json`. Names and versions are restricted to
`[A-Za-z0-9._-]` (and no `..`), so nothing from task input can walk out of the root.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from agent.aws import AwsClients, error_code
from agent.errors import InvalidInput

_PART = re.compile(r"^(?!\.)[A-Za-z0-9._-]{1,128}$")
MAX_TEMPLATE_BYTES = 1024 * 1024


class TemplateSource(Protocol):
    def load(self, reference: str) -> Any:
        """The decoded JSON of the template `name@version`; InvalidInput when unknown."""
        ...


def split_reference(reference: str) -> tuple[str, str]:
    name, sep, version = reference.partition("@")
    if not sep or not _PART.match(name) or not _PART.match(version) or ".." in reference:
        raise InvalidInput(
            f"template {reference[:200]!r}: expected name@version, each part made of letters, "
            "digits, '.', '_' and '-'"
        )
    return name, version


def _decode(text: str | bytes, where: str) -> Any:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{where} is not valid JSON: {exc}") from None


class FolderTemplates:
    def __init__(self, root: Path) -> None:
        self.root = root

    def load(self, reference: str) -> Any:
        name, version = split_reference(reference)
        path = self.root / name / f"{version}.json"
        if not path.is_file():
            raise InvalidInput(
                f"unknown template {reference!r}: no {name}/{version}.json in {self.root}"
            )
        return _decode(path.read_bytes()[:MAX_TEMPLATE_BYTES], f"template {reference!r}")


class S3Templates:
    def __init__(self, s3: Any, bucket: str, prefix: str) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    def load(self, reference: str) -> Any:
        name, version = split_reference(reference)
        key = "/".join(p for p in (self.prefix, name, f"{version}.json") if p)
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read(MAX_TEMPLATE_BYTES)
        except ClientError as exc:
            code = error_code(exc)
            if code in {"NoSuchKey", "404", "NotFound"}:
                raise InvalidInput(
                    f"unknown template {reference!r}: no s3://{self.bucket}/{key}"
                ) from None
            raise InvalidInput(
                f"template {reference!r}: cannot read s3://{self.bucket}/{key} ({code})"
            ) from None
        except BotoCoreError as exc:
            raise InvalidInput(f"template {reference!r}: cannot reach S3: {exc}") from None
        return _decode(body, f"template {reference!r}")


def template_source(setting: str | None, aws: AwsClients) -> TemplateSource | None:
    """`s3://bucket/prefix` or a folder path; None when not configured."""
    if not setting:
        return None
    if setting.startswith("s3://"):
        bucket, _, prefix = setting.removeprefix("s3://").partition("/")
        return S3Templates(aws.s3(), bucket, prefix)
    return FolderTemplates(Path(setting).expanduser())
