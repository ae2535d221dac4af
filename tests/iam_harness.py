"""Real AWS-shaped endpoints for identity tests: a moto server that checks signatures and IAM
policies, and the two credential endpoints botocore's chain reads on ECS and EC2.

The moto server lets its first three requests through unchecked (create an admin user, its
policy and its key); every later request must be signed by a known key and be allowed by that
key's policies, so a role assumed here proves both which credentials signed a call and that its
policy is enough.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest

REGION = "eu-west-2"
ACCOUNT = "123456789012"
FREE_REQUESTS = 3  # CreateUser, PutUserPolicy, CreateAccessKey for the admin

# moto evaluates non-S3 actions against resource "*", so those statements must say "*";
# S3 statements are matched against bucket/key for real.
AGENT_ACTIONS = [
    "ssm:GetParameters",
    "states:DescribeActivity",
    "states:GetActivityTask",
    "states:SendTaskSuccess",
    "states:SendTaskFailure",
    "states:SendTaskHeartbeat",
]


def agent_policy(
    bucket: str, *, s3: bool = True, actions: list[str] | None = None
) -> dict[str, Any]:
    statements: list[dict[str, Any]] = [
        {"Effect": "Allow", "Action": actions or AGENT_ACTIONS, "Resource": "*"}
    ]
    if s3:
        statements.append(
            {
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:PutObjectTagging"],
                "Resource": f"arn:aws:s3:::{bucket}/browser-sessions/*",
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Stack:
    """What the infra stack would create for one environment."""

    env: str
    bucket: str
    activity_arn: str


class MotoIam:
    def __init__(self, url: str) -> None:
        self.url = url
        bootstrap = self._session("bootstrap", "bootstrap")
        iam = bootstrap.client("iam", endpoint_url=url)
        iam.create_user(UserName="admin")
        iam.put_user_policy(
            UserName="admin",
            PolicyName="all",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
                }
            ),
        )
        key = iam.create_access_key(UserName="admin")["AccessKey"]
        self.admin_key = (key["AccessKeyId"], key["SecretAccessKey"])
        self.admin = self._session(*self.admin_key)

    @staticmethod
    def _session(key: str, secret: str, token: str | None = None) -> boto3.Session:
        return boto3.Session(
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            aws_session_token=token,
            region_name=REGION,
        )

    def client(self, service: str, session: boto3.Session | None = None) -> Any:
        return (session or self.admin).client(service, endpoint_url=self.url)

    def stack(self, env: str, *, parameters: bool = True) -> Stack:
        bucket = f"recordings-{env}-{secrets.token_hex(3)}"
        self.client("s3").create_bucket(
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        activity = self.client("stepfunctions").create_activity(name=f"browser-remote-{env}")
        arn = activity["activityArn"]
        if parameters:
            ssm = self.client("ssm")
            ssm.put_parameter(Name=f"/browser-agent/{env}/activity-arn", Value=arn, Type="String")
            ssm.put_parameter(Name=f"/browser-agent/{env}/s3-bucket", Value=bucket, Type="String")
        return Stack(env, bucket, arn)

    def role(self, name: str, policy: dict[str, Any]) -> str:
        iam = self.client("iam")
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}
            ],
        }
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"][
            "Arn"
        ]
        iam.put_role_policy(RoleName=name, PolicyName="agent", PolicyDocument=json.dumps(policy))
        return str(arn)

    def assume(self, role_arn: str, session_name: str) -> dict[str, str]:
        answer = self.client("sts").assume_role(RoleArn=role_arn, RoleSessionName=session_name)
        return dict(answer["Credentials"])

    def user_key(self, name: str, policy: dict[str, Any]) -> tuple[str, str]:
        iam = self.client("iam")
        iam.create_user(UserName=name)
        iam.put_user_policy(UserName=name, PolicyName="agent", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return key["AccessKeyId"], key["SecretAccessKey"]


@pytest.fixture(scope="session")
def moto_iam(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoIam]:
    port = _free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    executable = Path(sys.executable).parent / "moto_server"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(executable), "-H", "127.0.0.1", "-p", str(port)],
            env={"PATH": "/usr/bin:/bin", "INITIAL_NO_AUTH_ACTION_COUNT": str(FREE_REQUESTS)},
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"moto_server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield MotoIam(f"http://127.0.0.1:{port}")
    finally:
        process.terminate()
        process.wait(10)


@dataclass
class RoleCredentials:
    """Hands out a fresh assumed-role session per fetch, as ECS and EC2 rotate them."""

    moto: MotoIam
    role_arn: str
    lifetime_s: float = 3600
    fetches: int = 0
    handed_out: list[dict[str, str]] = field(default_factory=list)
    tamper: Callable[[dict[str, str]], dict[str, str]] | None = None

    def fetch(self) -> dict[str, str]:
        self.fetches += 1
        credentials = self.moto.assume(self.role_arn, f"agent-{self.fetches}")
        expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=self.lifetime_s)
        answer = {
            "AccessKeyId": credentials["AccessKeyId"],
            "SecretAccessKey": credentials["SecretAccessKey"],
            "Token": credentials["SessionToken"],
            "Expiration": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if self.tamper:
            answer = self.tamper(answer)
        self.handed_out.append(answer)
        return answer

    def secret_strings(self) -> list[str]:
        return [c[k] for c in self.handed_out for k in ("SecretAccessKey", "Token")]


class _Endpoint(ThreadingHTTPServer):
    daemon_threads = True


@contextlib.contextmanager
def _serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = _Endpoint(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def answer(self, status: int, body: str, content_type: str = "application/json") -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@contextlib.contextmanager
def container_endpoint(source: RoleCredentials, token: str) -> Iterator[dict[str, str]]:
    """An ECS task-role endpoint; yields the environment variables that point botocore at it."""

    class Handler(_Handler):
        def do_GET(self) -> None:
            if self.path != "/v2/credentials/task" or self.headers.get("Authorization") != token:
                self.answer(401, '{"message": "unauthorized"}')
                return
            self.answer(200, json.dumps({**source.fetch(), "RoleArn": source.role_arn}))

    with _serve(Handler) as url:
        yield {
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": f"{url}/v2/credentials/task",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": token,
            "AWS_EC2_METADATA_DISABLED": "true",
        }


@contextlib.contextmanager
def imds_endpoint(source: RoleCredentials, role_name: str) -> Iterator[dict[str, str]]:
    """An IMDSv2 endpoint: PUT a session token, then GET the role and its credentials."""
    session_token = secrets.token_hex(16)
    base = "/latest/meta-data/iam/security-credentials/"

    class Handler(_Handler):
        def do_PUT(self) -> None:
            if self.path == "/latest/api/token" and self.headers.get(
                "X-aws-ec2-metadata-token-ttl-seconds"
            ):
                self.answer(200, session_token, "text/plain")
            else:
                self.answer(400, "bad request", "text/plain")

        def do_GET(self) -> None:
            if self.headers.get("X-aws-ec2-metadata-token") != session_token:
                self.answer(401, "", "text/plain")
            elif self.path == base:
                self.answer(200, role_name, "text/plain")
            elif self.path == base + role_name:
                now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                body = {"Code": "Success", "LastUpdated": now, "Type": "AWS-HMAC"}
                self.answer(200, json.dumps({**body, **source.fetch()}))
            else:
                self.answer(404, "", "text/plain")

    with _serve(Handler) as url:
        yield {"AWS_EC2_METADATA_SERVICE_ENDPOINT": url + "/"}
