"""The opt-in legacy path for machines outside AWS: the seed's IAM-user access key.

`browser-agent-credentials-{env}` in Secrets Manager holds the key pair, the region, the
activity ARN and the bucket. The key pair goes into a named profile in the AWS config files
(`~/.aws/credentials`, honouring AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE), never into the
agent's settings, and is never printed.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from agent.access import DENIED_CODES, CallerIdentity, permission_fix
from agent.aws import AwsClients, error_code
from agent.errors import AwsAccessError, ConfigurationError

SECRET_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "ACTIVITY_ARN", "S3_BUCKET")


def secret_name(env: str) -> str:
    return f"browser-agent-credentials-{env}"


def profile_name(env: str) -> str:
    return f"browser-agent-{env}"


@dataclass(frozen=True)
class LegacySecret:
    access_key_id: str = field(repr=False)
    secret_access_key: str = field(repr=False)
    region: str | None
    activity_arn: str
    s3_bucket: str


def read_legacy_secret(
    clients: AwsClients, env: str, identity: CallerIdentity | None
) -> LegacySecret:
    name = secret_name(env)
    try:
        answer = clients.secretsmanager().get_secret_value(SecretId=name)
    except ClientError as exc:
        code = error_code(exc)
        if code in DENIED_CODES:
            raise AwsAccessError(
                f"reading the secret {name} was denied ({code}): "
                + permission_fix("secretsmanager:GetSecretValue", f"secret {name}", identity)
            ) from None
        if code == "ResourceNotFoundException":
            raise ConfigurationError(
                f"secret {name} not found in region {clients.region_name}: the IAM-user mode is "
                "off in the infra stack (it is opt-in); use a role or a profile instead, or "
                "deploy the stack with it on"
            ) from None
        raise AwsAccessError(f"reading the secret {name} failed ({code})") from None
    except BotoCoreError as exc:
        raise AwsAccessError(f"could not reach AWS Secrets Manager: {exc}") from None
    try:
        data = json.loads(answer.get("SecretString") or "")
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise ConfigurationError(f"secret {name} does not hold a JSON object")
    missing = [k for k in SECRET_KEYS if not data.get(k)]
    if missing:
        raise ConfigurationError(f"secret {name} lacks {', '.join(missing)}")
    return LegacySecret(
        access_key_id=str(data["AWS_ACCESS_KEY_ID"]),
        secret_access_key=str(data["AWS_SECRET_ACCESS_KEY"]),
        region=str(data.get("AWS_DEFAULT_REGION") or "") or None,
        activity_arn=str(data["ACTIVITY_ARN"]),
        s3_bucket=str(data["S3_BUCKET"]),
    )


def aws_file_paths(environ: Mapping[str, str]) -> tuple[Path, Path]:
    """The shared credentials file and the config file, as the AWS CLI and boto3 find them."""
    credentials = environ.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials"
    config = environ.get("AWS_CONFIG_FILE") or "~/.aws/config"
    return Path(credentials).expanduser(), Path(config).expanduser()


def write_profile(
    secret: LegacySecret, profile: str, environ: Mapping[str, str]
) -> tuple[Path, Path]:
    """Write (or replace) the profile's section in both files; other sections stay as they are."""
    credentials_path, config_path = aws_file_paths(environ)
    _set_section(
        credentials_path,
        profile,
        {
            "aws_access_key_id": secret.access_key_id,
            "aws_secret_access_key": secret.secret_access_key,
        },
        private=True,
    )
    settings = {"region": secret.region} if secret.region else {}
    _set_section(config_path, f"profile {profile}", settings, private=False)
    return credentials_path, config_path


def _set_section(path: Path, section: str, values: Mapping[str, str], *, private: bool) -> None:
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    header = re.compile(r"^\s*\[([^\]]+)\]\s*$")
    kept: list[str] = []
    skipping = False
    for line in lines:
        match = header.match(line)
        if match:
            skipping = match.group(1).strip() == section
        if not skipping:
            kept.append(line)
    while kept and not kept[-1].strip():
        kept.pop()
    block = [f"[{section}]", *(f"{k} = {v}" for k, v in values.items())]
    text = "\n".join([*kept, *([""] if kept else []), *block]) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(path.name + ".browser-agent.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    if not private and path.exists():
        os.chmod(temporary, path.stat().st_mode & 0o777)
    os.replace(temporary, path)
