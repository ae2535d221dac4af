"""`run-script --secret NAME=secretsmanager:ID#KEY`: the value comes from a real Secrets
Manager endpoint (a moto server over HTTP), is used by the script, and lands nowhere."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from conftest import EXAMPLES_DIR, Cli, find_secret
from moto.server import ThreadedMotoServer

from agent.demo.site import DemoSite

REGION = "eu-west-1"
SECRET_ID = "demo/login"


@pytest.fixture(scope="module")
def secrets_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    client = boto3.client(
        "secretsmanager",
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_secret(
        Name=SECRET_ID, SecretString=json.dumps({"password": DemoSite.PASSWORD, "other": "x"})
    )
    yield url
    server.stop()


def aws_env(url: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": url,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }


def test_a_secrets_manager_reference_logs_in_and_its_value_lands_nowhere(
    cli: Cli, secrets_endpoint: str, tmp_path: Path
) -> None:
    out = tmp_path / "recordings"
    result = cli(
        "run-script",
        EXAMPLES_DIR / "login.json",
        "--demo-site",
        "--var",
        f"username={DemoSite.USERNAME}",
        "--secret",
        f"password=secretsmanager:{SECRET_ID}#password",
        "--level",
        "TRACE",
        "--out",
        out,
        env=aws_env(secrets_endpoint),
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["success"] is True  # the demo site accepted the password
    texts = {"stdout": result.stdout, "stderr": result.stderr}
    assert find_secret(DemoSite.PASSWORD, texts, [out]) == []


@pytest.mark.parametrize(
    ("reference", "says"),
    [
        ("secretsmanager:no/such/secret#password", "ResourceNotFoundException"),
        (f"secretsmanager:{SECRET_ID}#missing", "not a JSON object with key 'missing'"),
    ],
)
def test_a_bad_reference_is_one_error_line_naming_it_and_no_value(
    cli: Cli, secrets_endpoint: str, tmp_path: Path, reference: str, says: str
) -> None:
    result = cli(
        "run-script",
        EXAMPLES_DIR / "login.json",
        "--demo-site",
        "--secret",
        f"password={reference}",
        "--out",
        tmp_path,
        env=aws_env(secrets_endpoint),
    )
    assert result.returncode == 2, result.stderr
    (line,) = result.error_lines()
    assert reference in line and says in line
    assert DemoSite.PASSWORD not in result.stdout + result.stderr
