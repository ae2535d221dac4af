"""The one place that builds boto3 sessions and clients for the agent.

Credentials come from the standard chain only (environment, profile, ECS task role, EC2
instance role); botocore refreshes role credentials by itself. `AWS_ENDPOINT_URL` and
`AWS_ENDPOINT_URL_<SERVICE>` are honoured by botocore, so any compatible endpoint works.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

# GetActivityTask long-polls for up to 60 s: the read timeout must be longer.
STATES_READ_TIMEOUT_S = 70
_ARN_REGION = re.compile(r"^arn:aws[a-zA-Z-]*:[a-z0-9-]+:([a-z0-9-]+):")


def _custom_endpoint(service: str) -> bool:
    return bool(os.environ.get(f"AWS_ENDPOINT_URL_{service}") or os.environ.get("AWS_ENDPOINT_URL"))


def region_from_arn(arn: str | None) -> str | None:
    match = _ARN_REGION.match(arn or "")
    return match.group(1) if match and match.group(1) else None


@dataclass
class AwsClients:
    """boto3 clients with the agent's retry and timeout settings, one per service, cached."""

    region: str | None = None
    profile: str | None = None
    max_attempts: int = 8
    retry_mode: str = "adaptive"
    _session: boto3.Session | None = field(default=None, init=False, repr=False)
    _clients: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def for_settings(
        cls, *, aws_region: str | None, activity_arn: str | None, profile: str | None = None
    ) -> AwsClients:
        """Region from the settings, else from the activity ARN, else the AWS config."""
        return cls(region=aws_region or region_from_arn(activity_arn), profile=profile)

    @property
    def session(self) -> boto3.Session:
        if self._session is None:
            self._session = boto3.Session(profile_name=self.profile, region_name=self.region)
        return self._session

    def _config(self, **extra: Any) -> Config:
        return Config(
            retries={"mode": self.retry_mode, "max_attempts": self.max_attempts},
            connect_timeout=10,
            **extra,
        )

    def client(self, service: str, **config: Any) -> Any:
        key = f"{service}:{sorted(config.items())}"
        if key not in self._clients:
            self._clients[key] = self.session.client(service, config=self._config(**config))
        return self._clients[key]

    def s3(self) -> Any:
        # Emulators and most S3-compatible servers on a custom endpoint need path-style URLs.
        style = "path" if _custom_endpoint("S3") else "auto"
        return self.client("s3", read_timeout=60, s3={"addressing_style": style})

    def stepfunctions(self) -> Any:
        return self.client("stepfunctions", read_timeout=STATES_READ_TIMEOUT_S)

    def ssm(self) -> Any:
        return self.client("ssm")

    def sts(self) -> Any:
        return self.client("sts")

    def secretsmanager(self) -> Any:
        return self.client("secretsmanager")
