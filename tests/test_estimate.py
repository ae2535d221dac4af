"""`browser-agent estimate` over real recordings of the demo, from a folder and from a bucket
(a moto server over HTTP): the sizes per level are those the manifests on disk say."""

from __future__ import annotations

import json
import statistics
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any

import boto3
import pytest
from conftest import Cli, browser_agent_executable, clean_environment
from moto.server import ThreadedMotoServer

BUCKET = "estimate-recordings"
REGION = "eu-west-1"
SESSIONS_PER_DAY = 200
FAILURE_RATE = 0.1


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    subprocess.run(
        [str(browser_agent_executable()), "demo", "--levels", "ERROR,INFO,TRACE", "--out", out],
        env=clean_environment(),
        capture_output=True,
        check=True,
        timeout=300,
    )
    # An extract called `manifest` inside a session is an artifact, not a session.
    some_session = next(out.rglob("manifest.json")).parent
    (some_session / "extracts").mkdir(exist_ok=True)
    (some_session / "extracts" / "manifest.json").write_text('{"not": "a manifest"}')
    return out


def session_manifests(root: Path) -> list[tuple[Path, dict[str, Any]]]:
    found = []
    for path in root.rglob("manifest.json"):
        data = json.loads(path.read_text())
        if "artifacts" in data:
            found.append((path, data))
    return found


def expected_kept_bytes(root: Path) -> dict[str, float]:
    sizes: dict[str, list[int]] = defaultdict(list)
    for _, data in session_manifests(root):
        sizes[data["level"]].append(sum(a["bytes"] for a in data["artifacts"]))
    return {level: statistics.mean(values) for level, values in sizes.items()}


def estimate(cli: Cli, *args: str | Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    result = cli(
        "estimate",
        *args,
        "--sessions-per-day",
        str(SESSIONS_PER_DAY),
        "--failure-rate",
        str(FAILURE_RATE),
        "--json",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    return {row["level"]: row for row in json.loads(result.stdout)}


def test_estimate_of_a_folder_matches_its_manifests(cli: Cli, recordings: Path) -> None:
    rows = estimate(cli, recordings)
    expected = expected_kept_bytes(recordings)
    assert set(expected) == {"ERROR", "INFO", "TRACE"}
    for level, kept in expected.items():
        row = rows[level]
        assert row["bytes_per_kept_session"] == pytest.approx(kept)
        share = FAILURE_RATE if level == "ERROR" else 1.0
        assert row["bytes_per_session"] == pytest.approx(kept * share)
        assert row["bytes_per_day"] == pytest.approx(kept * share * SESSIONS_PER_DAY)
    assert rows["NONE"]["manifests"] == 0 and rows["DEBUG"]["manifests"] == 0
    assert rows["TRACE"]["bytes_per_kept_session"] > rows["INFO"]["bytes_per_kept_session"]


def test_estimate_of_a_bucket_reads_the_same_manifests(cli: Cli, recordings: Path) -> None:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        env = {
            "AWS_ENDPOINT_URL": url,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }
        s3 = boto3.client("s3", endpoint_url=url, region_name=REGION, **_keys(env))
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        for path in recordings.rglob("manifest.json"):
            key = path.as_posix()[path.as_posix().rindex("browser-sessions/") :]
            s3.put_object(Bucket=BUCKET, Key=key, Body=path.read_bytes())
        from_bucket = estimate(cli, "--bucket", BUCKET, "--env", "dev", env=env)
        missing = cli("estimate", "--bucket", "no-such-bucket", env=env)
    finally:
        server.stop()
    assert from_bucket == estimate(cli, recordings)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    (line,) = missing.error_lines()
    assert "NoSuchBucket" in line and "s3:ListBucket" in line


def test_estimate_with_no_recordings_says_what_to_do(cli: Cli, tmp_path: Path) -> None:
    result = cli("estimate", tmp_path)
    assert result.returncode == 2
    (line,) = result.error_lines()
    assert str(tmp_path) in line and "browser-agent demo" in line


def _keys(env: dict[str, str]) -> dict[str, str]:
    return {
        "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
    }
