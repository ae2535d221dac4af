"""LocalStack as a host process (no Docker), for tests of the activity worker.

It needs Python >= 3.12, so it runs from `.venv-localstack` (made by scripts/setup).
One LocalStack per test session; tests make their own activities and state machines.
It starts through localstack_entry.py, which fixes a race that loses an early activity answer.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
LOCALSTACK_PYTHON = REPO_ROOT / ".venv-localstack" / "bin" / "python"
ENTRY_POINT = Path(__file__).with_name("localstack_entry.py")
READY_TIMEOUT_S = 90
STOP_GRACE_S = 2
AWS_TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_localstack/health", timeout=2) as response:
            services = json.loads(response.read()).get("services", {})
    except (urllib.error.URLError, OSError, ValueError):
        return False
    return services.get("stepfunctions") in {"available", "running"}


@pytest.fixture(scope="session")
def localstack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The endpoint URL of a LocalStack serving Step Functions, S3, SSM, STS and more."""
    if not LOCALSTACK_PYTHON.is_file():
        pytest.fail(
            f"{LOCALSTACK_PYTHON} is missing: run scripts/setup (it makes .venv-localstack)"
        )
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    data_dir = tmp_path_factory.mktemp("localstack")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BROWSER_AGENT_"))},
        "GATEWAY_LISTEN": f"127.0.0.1:{port}",
        "SERVICES": "s3,stepfunctions,ssm,secretsmanager,sts,cloudwatch,events",
        "DNS_ADDRESS": "0",
        "DISABLE_EVENTS": "1",
        "SKIP_SSL_CERT_DOWNLOAD": "1",
        "FILESYSTEM_ROOT": str(data_dir),
        "LOCALSTACK_VOLUME_DIR": str(data_dir / "volume"),
    }
    log_path = data_dir / "localstack.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            # -P: the script's folder (this one, with localstack.py) stays off sys.path.
            [str(LOCALSTACK_PYTHON), "-P", str(ENTRY_POINT)],
            env=env,
            cwd=data_dir,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not _healthy(url):
            if process.poll() is not None:
                pytest.fail(f"LocalStack exited with {process.returncode}:\n{_tail(log_path)}")
            if time.monotonic() > deadline:
                pytest.fail(f"LocalStack not ready in {READY_TIMEOUT_S} s:\n{_tail(log_path)}")
            time.sleep(0.2)
        yield url
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """LocalStack waits ~30 s for open long polls on SIGTERM; nothing of it needs keeping."""
    process.terminate()
    try:
        process.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def aws_env(endpoint: str) -> dict[str, str]:
    """What a process needs to talk to this LocalStack with boto3."""
    return {**AWS_TEST_ENV, "AWS_ENDPOINT_URL": endpoint}
