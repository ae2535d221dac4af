"""The one place that builds boto3 sessions and clients for the agent.

Credentials come from the standard chain only (environment, profile, ECS task role, EC2
instance role); botocore refreshes role credentials by itself. `AWS_ENDPOINT_URL` and
`AWS_ENDPOINT_URL_<SERVICE>` are honoured by botocore, so any compatible endpoint works.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError, ProfileNotFound

from agent.errors import ConfigurationError

# GetActivityTask long-polls for up to 60 s: the read timeout must be longer.
STATES_READ_TIMEOUT_S = 70
# The poll is made once per call: a retry inside botocore would hide the error from the worker's
# own backoff and hints, and after a read timeout the task in the lost answer is gone anyway.
ACTIVITY_POLL_RETRIES = {"mode": "standard", "total_max_attempts": 1}
_ARN_REGION = re.compile(r"^arn:aws[a-zA-Z-]*:[a-z0-9-]+:([a-z0-9-]+):")

# botocore's name for where the credentials came from, in words.
CREDENTIAL_SOURCES = {
    "env": "environment variables (AWS_ACCESS_KEY_ID)",
    "shared-credentials-file": "the shared credentials file (~/.aws/credentials)",
    "config-file": "the AWS config file (~/.aws/config)",
    "container-role": "the ECS task role (container credentials endpoint)",
    "iam-role": "the EC2 instance role (instance metadata service)",
    "assume-role": "a role assumed through the AWS profile",
    "assume-role-with-web-identity": "a web identity token (assume-role-with-web-identity)",
    "sso": "an IAM Identity Center (SSO) profile",
    "custom-process": "the profile's credential_process",
}


def error_code(exc: ClientError) -> str:
    """The error code; a bare 403 (a body the protocol parser could not read, as after S3 HEAD
    or from some emulators) is AccessDenied."""
    code = str(exc.response.get("Error", {}).get("Code") or "ClientError")
    return "AccessDenied" if code == "403" else code


def _custom_endpoint(service: str) -> bool:
    return bool(os.environ.get(f"AWS_ENDPOINT_URL_{service}") or os.environ.get("AWS_ENDPOINT_URL"))


def botocore_session(
    *, profile: str | None = None, endpoints: Mapping[str, str] | None = None
) -> botocore.session.Session:
    """A botocore session on the standard credential chain, for SDKs that build their own
    clients from it (Nova Act). `endpoints` maps a service (its hyphenated id, e.g. nova-act)
    to an endpoint URL, for SDKs that pass an endpoint of their own to their clients: the
    override goes in where botocore resolves endpoints, so it wins over the SDK's."""
    session = botocore.session.Session(profile=profile or None)
    for service, url in (endpoints or {}).items():
        session.register(f"before-endpoint-resolution.{service}", _endpoint_override(url))
    return session


def _endpoint_override(url: str) -> Any:
    def override(builtins: dict[str, Any], **_: Any) -> None:
        builtins["SDK::Endpoint"] = url

    return override


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
            try:
                # AWS_REGION (set by ECS and Lambda, read by the AWS CLI v2) wins over the
                # profile's region, as in the CLI; botocore itself only reads AWS_DEFAULT_REGION.
                region = self.region or os.environ.get("AWS_REGION") or None
                self._session = boto3.Session(profile_name=self.profile, region_name=region)
            except ProfileNotFound:
                raise ConfigurationError(
                    f"AWS profile {self.profile!r} is not in the AWS config files "
                    "(~/.aws/config, ~/.aws/credentials, or AWS_CONFIG_FILE / "
                    "AWS_SHARED_CREDENTIALS_FILE): create it or name another with --aws-profile"
                ) from None
        return self._session

    @property
    def region_name(self) -> str | None:
        """The region the clients use: the given one, else the AWS config's."""
        return self.region or self.session.region_name

    def credential_source(self) -> str | None:
        """Where the standard chain found credentials, in words; None when it found none."""
        credentials = self.session.get_credentials()
        if credentials is None:
            return None
        method = str(getattr(credentials, "method", "unknown"))
        return CREDENTIAL_SOURCES.get(method, method)

    def _config(self, **extra: Any) -> Config:
        options: dict[str, Any] = {
            "retries": {"mode": self.retry_mode, "max_attempts": self.max_attempts},
            "connect_timeout": 10,
            **extra,
        }
        return Config(**options)

    def client(self, service: str, **config: Any) -> Any:
        key = f"{service}:{sorted(config.items())}"
        if key not in self._clients:
            # boto3-stubs (which the nova extra brings) only knows literal service names.
            session: Any = self.session
            self._clients[key] = session.client(service, config=self._config(**config))
        return self._clients[key]

    def s3(self) -> Any:
        # Emulators and most S3-compatible servers on a custom endpoint need path-style URLs.
        style = "path" if _custom_endpoint("S3") else "auto"
        # SigV4 named explicitly: otherwise botocore presigns links with SigV2 where a region
        # still allows it, and S3 refuses SigV2 links to SSE-KMS objects.
        return self.client(
            "s3", read_timeout=60, s3={"addressing_style": style}, signature_version="s3v4"
        )

    def stepfunctions(self) -> Any:
        """For heartbeats and answers, retried by botocore: an answer repeated after a lost
        reply is refused as a token that has ended, which the worker logs and moves on from."""
        return self.client("stepfunctions", read_timeout=STATES_READ_TIMEOUT_S)

    def activity_poller(self) -> Any:
        """For GetActivityTask only: one attempt per call (the worker backs off itself), and a
        client of its own, so throttled polls never slow heartbeats and answers down."""
        return self.client(
            "stepfunctions", read_timeout=STATES_READ_TIMEOUT_S, retries=ACTIVITY_POLL_RETRIES
        )

    def ssm(self) -> Any:
        return self.client("ssm")

    def sts(self) -> Any:
        return self.client("sts")

    def secretsmanager(self) -> Any:
        return self.client("secretsmanager")
