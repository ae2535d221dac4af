"""The S3 recording store and its durable upload spool (spec 5), against real S3 servers.

Every test runs the real `browser-agent` command and real Chromium against the demo site, and
talks to moto or SeaweedFS over HTTP through a counting proxy (tests/s3_servers.py) that sees
each PutObject, multipart call and part, so "nothing twice" is counted, not assumed.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import posixpath
import re
import signal
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLES_DIR, CliResult, files_under, wait_until
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from s3_servers import (
    COMPLETING,
    SECRET_KEY,
    Agent,
    MotoServer,
    ProxiedRequest,
    S3Proxy,
    S3Server,
    SeaweedFS,
    agent_environment,
    moto_s3,
    s3_server,
    seaweedfs,
)

from agent.demo.site import DemoSite
from agent.recording.manifest import MANIFEST_NAME, ArtifactRecord, SessionManifest
from agent.storage.keys import MAX_ID_LENGTH, ROOT_PREFIX, sanitize_id, session_prefix
from agent.storage.spool import STATE_NAME

__all__ = ["moto_s3", "s3_server", "seaweedfs"]  # the fixtures, for pytest

MiB = 1024 * 1024
PART_SIZE = 5 * MiB  # S3's minimum part size, the smallest multipart_chunksize_mb allowed
THRESHOLD_MB = 0.02  # screenshots and HTML go up in one PutObject; trace and video in parts
THRESHOLD = int(THRESHOLD_MB * MiB)
SAFE_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
OUTAGE_S = 20
DROP_ORDER = ("video", "trace", "har", "html")  # issue #4: lowest value first
DROPPED = re.compile(r"spool full: dropped (\S+) \(\d+ bytes\) of session (\S+)")


# ---------------------------------------------------------------------------------------------
# Helpers


@dataclass
class Bench:
    """One bucket, one spool, one proxy in front of the server, and the agent pointed at it."""

    server: S3Server
    bucket: str
    proxy: S3Proxy
    spool: Path
    home: Path
    cwd: Path
    site: DemoSite

    def agent(self, *, secret_key: str = SECRET_KEY, direct: bool = False) -> Agent:
        endpoint = self.server.url if direct else self.proxy.url
        settings = {
            "BROWSER_AGENT_S3__MULTIPART_THRESHOLD_MB": str(THRESHOLD_MB),
            "BROWSER_AGENT_S3__MULTIPART_CHUNKSIZE_MB": str(PART_SIZE // MiB),
            "DEMO_PASSWORD": self.site.PASSWORD,
        }
        environment = agent_environment(
            endpoint, self.home, self.spool, secret_key=secret_key, settings=settings
        )
        return Agent(self.cwd, environment)

    def run_args(
        self, script: Path = EXAMPLES_DIR / "login.json", level: str = "TRACE"
    ) -> list[str]:
        return [
            "run-script",
            str(script),
            "--level",
            level,
            "--bucket",
            self.bucket,
            "--out",
            str(self.spool),
            "--var",
            f"base_url={self.site.url}",
            "--var",
            f"username={self.site.USERNAME}",
            "--secret",
            "password=env:DEMO_PASSWORD",
        ]

    def run(self, agent: Agent | None = None, **kwargs: Any) -> CliResult:
        return (agent or self.agent())(*self.run_args(**kwargs))

    def sessions_on_disk(self) -> list[Path]:
        return spooled_sessions(self.spool)


@contextlib.contextmanager
def bench(server: S3Server, folder: Path, site: DemoSite) -> Iterator[Bench]:
    for name in ("spool", "home", "cwd"):
        (folder / name).mkdir(parents=True, exist_ok=True)
    with S3Proxy(server.url) as proxy:
        yield Bench(
            server,
            server.new_bucket(),
            proxy,
            folder / "spool",
            folder / "home",
            folder / "cwd",
            site,
        )


def spooled_sessions(spool: Path) -> list[Path]:
    """Session folders waiting in the spool (a manifest.json at the session level)."""
    root = spool / ROOT_PREFIX
    if not root.exists():
        return []
    return sorted(m.parent for m in root.glob(f"*/*/*/*/*/{MANIFEST_NAME}"))


def result_of(run: CliResult) -> dict[str, Any]:
    assert "Traceback" not in run.stderr, run.stderr
    try:
        return dict(json.loads(run.stdout))
    except ValueError:
        raise AssertionError(f"no result JSON: {run.stdout}\n{run.stderr}") from None


def log_records(stderr: str) -> list[dict[str, Any]]:
    records = []
    for line in stderr.splitlines():
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if isinstance(record, dict) and "message" in record:
                records.append(record)
    return records


def prefix_of(manifest_uri: str, bucket: str) -> str:
    assert manifest_uri.startswith(f"s3://{bucket}/"), manifest_uri
    return manifest_uri.removeprefix(f"s3://{bucket}/").removesuffix(f"/{MANIFEST_NAME}")


def b64_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def composite_sha256(data: bytes) -> str:
    """S3's checksum of a multipart object: the SHA-256 of the parts' SHA-256 digests."""
    parts = [data[i : i + PART_SIZE] for i in range(0, len(data), PART_SIZE)] or [b""]
    return b64_sha256(b"".join(hashlib.sha256(p).digest() for p in parts))


def fetch_manifest(server: S3Server, bucket: str, prefix: str) -> tuple[bytes, SessionManifest]:
    body = server.client().get_object(Bucket=bucket, Key=f"{prefix}/{MANIFEST_NAME}")["Body"]
    data: bytes = body.read()
    return data, SessionManifest.model_validate_json(data)


def check_bucket_matches_manifest(
    server: S3Server, bucket: str, prefix: str, level: str
) -> SessionManifest:
    """Every object under the prefix is in the manifest with its exact bytes and sha256, carries
    the metadata, tag, encryption and the checksum the agent sent; nothing else is there."""
    client = server.client()
    _, manifest = fetch_manifest(server, bucket, prefix)
    listed = {
        o["Key"]: o["Size"]
        for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=f"{prefix}/"
        )
        for o in page.get("Contents", [])
    }
    expected = {f"{prefix}/{a.key}" for a in manifest.artifacts} | {f"{prefix}/{MANIFEST_NAME}"}
    assert set(listed) == expected
    by_key: dict[str, ArtifactRecord | None] = {f"{prefix}/{a.key}": a for a in manifest.artifacts}
    by_key[f"{prefix}/{MANIFEST_NAME}"] = None
    for key, artifact in by_key.items():
        data = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        if artifact is not None:
            assert len(data) == artifact.bytes == listed[key], key
            assert hashlib.sha256(data).hexdigest() == artifact.sha256, key
        head = client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        assert head["Metadata"] == {
            "task_id": sanitize_id(manifest.task_id or "none"),
            "script": sanitize_id(manifest.script),
            "recording_level": level,
        }, key
        assert head["ServerSideEncryption"] == "AES256", key
        checksum = b64_sha256(data) if len(data) < THRESHOLD else composite_sha256(data)
        assert head["ChecksumSHA256"].split("-")[0] == checksum, key
        tags = client.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
        assert tags == [{"Key": "recording-level", "Value": level}], key
    return manifest


def check_each_key_completed_once(proxy: S3Proxy, manifest: SessionManifest, prefix: str) -> None:
    """One successful PutObject or CompleteMultipartUpload per key, and no write for a key
    after it was complete."""
    keys = [f"{prefix}/{a.key}" for a in manifest.artifacts] + [f"{prefix}/{MANIFEST_NAME}"]
    requests = proxy.seen()
    for key in keys:
        done = [
            i for i, r in enumerate(requests) if r.key == key and r.ok and r.operation in COMPLETING
        ]
        assert len(done) == 1, (key, [(r.operation, r.status) for r in requests if r.key == key])
        later = [r for r in requests[done[0] + 1 :] if r.key == key and r.method in ("PUT", "POST")]
        assert later == [], key
    assert {r.key for r in requests if r.method in ("PUT", "POST")} == set(keys)


def multipart_keys(proxy: S3Proxy) -> set[str]:
    return {r.key for r in proxy.seen() if r.ok and r.operation == "CompleteMultipartUpload"}


# ---------------------------------------------------------------------------------------------
# 1. A TRACE session goes up whole, on moto and on SeaweedFS


@dataclass
class Upload:
    bench: Bench
    run: CliResult
    result: dict[str, Any]
    prefix: str


@pytest.fixture(scope="module")
def trace_upload(
    tmp_path_factory: pytest.TempPathFactory, demo_site: DemoSite
) -> Iterator[Callable[[S3Server], Upload]]:
    """One TRACE login session uploaded per server, shared by the tests that read it back."""
    done: dict[str, Upload] = {}
    with contextlib.ExitStack() as stack:

        def upload(server: S3Server) -> Upload:
            if server.name not in done:
                folder = tmp_path_factory.mktemp(f"trace-{server.name}")
                setup = stack.enter_context(bench(server, folder, demo_site))
                run = setup.run()
                result = result_of(run)
                uri = result["recording"]["manifest_uri"]
                done[server.name] = Upload(setup, run, result, prefix_of(uri, setup.bucket))
            return done[server.name]

        yield upload


@pytest.mark.browser
def test_trace_session_uploads_every_object_with_metadata_tag_and_checksum(
    s3_server: S3Server, trace_upload: Callable[[S3Server], Upload]
) -> None:
    upload = trace_upload(s3_server)
    setup, result = upload.bench, upload.result
    assert upload.run.returncode == 0, upload.run.stderr
    assert result["success"] is True
    assert result["recording"]["upload_status"] == "uploaded"
    assert result["recording"]["level"] == "TRACE"

    manifest = check_bucket_matches_manifest(setup.server, setup.bucket, upload.prefix, "TRACE")
    assert manifest.session_id == result["session_id"]
    assert len(manifest.artifacts) == result["recording"]["artifacts"]
    assert upload.prefix.startswith(f"{ROOT_PREFIX}/dev/{manifest.started_at:%Y/%m/%d}/")
    assert upload.prefix.endswith(f"/{manifest.session_id}")

    # The video really went up as a multipart upload (and the small files did not).
    video = next(a for a in manifest.artifacts if a.type == "video")
    assert video.bytes > THRESHOLD, "the video must be above the multipart threshold"
    video_key = f"{upload.prefix}/{video.key}"
    assert video_key in multipart_keys(setup.proxy)
    assert [r.part for r in setup.proxy.seen() if r.key == video_key and r.part] == [1]
    small = [a for a in manifest.artifacts if a.bytes < THRESHOLD]
    assert small and not {f"{upload.prefix}/{a.key}" for a in small} & multipart_keys(setup.proxy)
    check_each_key_completed_once(setup.proxy, manifest, upload.prefix)

    # The manifest went last, and the local copy is gone.
    writes = setup.proxy.writes()
    assert writes[-1].key == f"{upload.prefix}/{MANIFEST_NAME}"
    assert setup.sessions_on_disk() == []
    assert files_under(setup.spool) == []


# A page of random pixels: its screenshot does not compress, so it is above S3's 5 MiB part size.
NOISE_WIDTH, NOISE_HEIGHT = 2400, 1800
NOISE_PAGE = (
    "data:text/html,<body style='margin:0'><canvas id=c></canvas><script>"
    f"const w={NOISE_WIDTH},h={NOISE_HEIGHT},c=document.getElementById('c');"
    "c.width=w;c.height=h;const x=c.getContext('2d'),d=x.createImageData(w,h);"
    "for(let i=0;i<d.data.length;i+=65536)"
    "crypto.getRandomValues(d.data.subarray(i,Math.min(i+65536,d.data.length)));"
    "for(let i=3;i<d.data.length;i+=4)d.data[i]=255;x.putImageData(d,0,0);</script></body>"
)


@pytest.mark.browser
def test_an_artifact_above_5_mib_goes_up_in_parallel_parts_that_reassemble(
    s3_server: S3Server, tmp_path: Path, demo_site: DemoSite
) -> None:
    script = {
        "name": "noise",
        "version": "1",
        "session": {"viewport": {"width": NOISE_WIDTH, "height": NOISE_HEIGHT}},
        "variables": {
            "base_url": {"required": True},
            "username": {},
            "password": {"secret": True},
        },
        "steps": [
            {"action": "goto", "url": "{{base_url}}/login"},
            {"action": "goto", "url": NOISE_PAGE},
            {"action": "screenshot", "name": "noise"},
        ],
    }
    path = tmp_path / "noise.json"
    path.write_text(json.dumps(script), encoding="utf-8")
    with bench(s3_server, tmp_path, demo_site) as setup:
        # The first part of each multipart upload waits at the proxy until another part of the
        # same upload arrives: that happens only if parts are sent in parallel.
        first_parts: dict[str, threading.Event] = {}
        parallel: set[str] = set()
        lock = threading.Lock()

        def hold(request: ProxiedRequest) -> bool:
            if request.operation == "UploadPart":
                upload_id = request.query["uploadId"]
                with lock:
                    first = upload_id not in first_parts
                    first_parts.setdefault(upload_id, threading.Event())
                if not first:
                    first_parts[upload_id].set()
                elif first_parts[upload_id].wait(30):
                    parallel.add(upload_id)
            return True

        setup.proxy.hold = hold
        run = setup.run(script=path, level="INFO")
        result = result_of(run)
        assert run.returncode == 0 and result["recording"]["upload_status"] == "uploaded"
        prefix = prefix_of(result["recording"]["manifest_uri"], setup.bucket)
        manifest = check_bucket_matches_manifest(setup.server, setup.bucket, prefix, "INFO")
        check_each_key_completed_once(setup.proxy, manifest, prefix)

        large = [a for a in manifest.artifacts if a.bytes > 2 * PART_SIZE]
        assert {a.key for a in large} == {"final.png", "screenshots/noise.png"}
        for artifact in large:
            key = f"{prefix}/{artifact.key}"
            requests = [r for r in setup.proxy.seen() if r.key == key]
            parts = sorted(r.part for r in requests if r.part is not None and r.ok)
            assert parts == list(range(1, -(-artifact.bytes // PART_SIZE) + 1)), key
            operations = [r.operation for r in requests if r.part is None]
            assert operations == ["CreateMultipartUpload", "CompleteMultipartUpload"], key
            upload_ids = {r.query["uploadId"] for r in requests if r.part is not None}
            assert len(upload_ids) == 1 and upload_ids <= parallel, key


# ---------------------------------------------------------------------------------------------
# 2. The server stops mid-upload and comes back 20 s later


class Outage:
    """Stops the server when the video's first part arrives (that part never reaches it) and
    starts it again on the same folder and ports OUTAGE_S seconds later."""

    def __init__(self, server: SeaweedFS, setup: Bench) -> None:
        self.server = server
        self.setup = setup
        self.triggered = threading.Event()
        self.restarted = threading.Event()
        self.manifest_before: bytes | None = None
        self.on_disk_while_down: list[Path] = []
        self.stopped_at = self.restarted_at = 0.0
        self._thread: threading.Thread | None = None

    def hold(self, request: ProxiedRequest) -> bool:
        if self.triggered.is_set() or not (
            request.operation == "UploadPart" and request.key.endswith("/video.webm")
        ):
            return True
        self.triggered.set()
        self.manifest_before = (self.setup.sessions_on_disk()[0] / MANIFEST_NAME).read_bytes()
        self.server.stop()
        self.stopped_at = time.monotonic()
        self._thread = threading.Thread(target=self._restart, daemon=True)
        self._thread.start()
        return False

    def _restart(self) -> None:
        # The outage itself: the server stays down this long, whatever the agent does.
        threading.Event().wait(OUTAGE_S)
        self.on_disk_while_down = self.setup.sessions_on_disk()
        self.server.start()
        self.restarted_at = time.monotonic()
        self.restarted.set()

    def join(self) -> None:
        assert self._thread is not None, "the outage never started: no video part was seen"
        self._thread.join(OUTAGE_S + 60)
        assert self.restarted.is_set(), "the server did not come back"


@pytest.mark.browser
def test_server_stopped_mid_upload_and_back_20_s_later_loses_and_repeats_nothing(
    tmp_path: Path, demo_site: DemoSite
) -> None:
    server = SeaweedFS(tmp_path / "seaweedfs")  # its own: it is stopped and started again
    try:
        with bench(server, tmp_path, demo_site) as setup:
            outage = Outage(server, setup)
            setup.proxy.hold = outage.hold
            setup.proxy.local_copy = lambda: bool(setup.sessions_on_disk())
            agent = setup.agent()
            run = setup.run(agent)
            result = result_of(run)
            assert run.returncode == 0 and result["success"] is True
            # botocore's own retries may or may not outlast the outage: the session is then
            # uploaded or waiting in the spool, never lost; `spool flush --wait` retries it.
            assert result["recording"]["upload_status"] in ("uploaded", "pending")
            flush = agent("spool", "flush", "--wait", "120", "--bucket", setup.bucket)
            outage.join()
            assert flush.returncode == 0, flush.stdout + flush.stderr
            assert "Traceback" not in flush.stderr
            check_outage_lost_and_repeated_nothing(setup, outage, result)
    finally:
        server.stop(graceful=False)


def check_outage_lost_and_repeated_nothing(
    setup: Bench, outage: Outage, result: dict[str, Any]
) -> None:
    assert outage.restarted_at - outage.stopped_at >= OUTAGE_S
    # The agent kept trying during the outage; none of it reached the server.
    seen = setup.proxy.seen()
    during = [r for r in seen if outage.stopped_at <= r.at < outage.restarted_at]
    assert during and all(r.status is None for r in during)
    # The local copy was there all along: while the server was down and at every request, the
    # manifest's included; it left the spool only after that.
    assert len(outage.on_disk_while_down) == 1
    assert all(r.local_copy for r in seen)
    assert setup.sessions_on_disk() == []

    prefix = prefix_of(result["recording"]["manifest_uri"], setup.bucket)
    manifest_bytes, _ = fetch_manifest(setup.server, setup.bucket, prefix)
    assert manifest_bytes == outage.manifest_before
    manifest = check_bucket_matches_manifest(setup.server, setup.bucket, prefix, "TRACE")
    check_each_key_completed_once(setup.proxy, manifest, prefix)
    video = f"{prefix}/video.webm"
    (completed,) = setup.proxy.completions(video)
    assert completed.at >= outage.restarted_at
    # Everything before the video was confirmed before the outage (and never sent again).
    keys = [f"{prefix}/{a.key}" for a in manifest.artifacts]
    assert all(
        setup.proxy.completions(k)[0].at < outage.stopped_at for k in keys[: keys.index(video)]
    )


# ---------------------------------------------------------------------------------------------
# 3. The agent is SIGKILLed mid-upload; a new process finishes the job


@pytest.mark.browser
def test_agent_killed_mid_upload_is_resumed_by_a_new_process(
    tmp_path: Path, demo_site: DemoSite, seaweedfs: SeaweedFS
) -> None:
    with bench(seaweedfs, tmp_path, demo_site) as setup:
        held, released = threading.Event(), threading.Event()

        def hold(request: ProxiedRequest) -> bool:
            video_part = request.operation == "UploadPart" and request.key.endswith("/video.webm")
            if video_part and not held.is_set():
                held.set()
                released.wait(120)
                return False  # its sender is dead by now: drop it
            return True

        setup.proxy.hold = hold
        agent = setup.agent()
        with agent.started(*setup.run_args(), log=tmp_path / "killed.log") as process:
            wait_until(held.is_set, "the video's first part at the proxy", timeout_s=120)
            (session,) = setup.sessions_on_disk()
            manifest_before = (session / MANIFEST_NAME).read_bytes()
            os.kill(process.pid, signal.SIGKILL)
            assert process.wait(30) == -signal.SIGKILL
        released.set()
        killed_at = time.monotonic()

        # What the dead process had confirmed is on disk, and is exactly what S3 completed.
        confirmed = set(json.loads((session / STATE_NAME).read_text())["confirmed"])
        completed = {r.key for r in setup.proxy.seen() if r.ok and r.operation in COMPLETING}
        assert confirmed == completed and confirmed
        assert not any(k.endswith("/video.webm") or k.endswith(MANIFEST_NAME) for k in confirmed)

        status = agent("spool", "status", "--bucket", setup.bucket)
        assert status.returncode == 0, status.stderr
        prefix = session.relative_to(setup.spool).as_posix()
        assert json.loads(status.stdout)["pending"] == [prefix]

        flush = agent("spool", "flush", "--bucket", setup.bucket)
        assert flush.returncode == 0, flush.stdout + flush.stderr
        assert "Traceback" not in flush.stderr
        assert setup.sessions_on_disk() == []

        manifest_bytes, _ = fetch_manifest(seaweedfs, setup.bucket, prefix)
        assert manifest_bytes == manifest_before
        manifest = check_bucket_matches_manifest(seaweedfs, setup.bucket, prefix, "TRACE")
        check_each_key_completed_once(setup.proxy, manifest, prefix)
        resumed = [r for r in setup.proxy.writes() if r.at >= killed_at]
        assert resumed and not {r.key for r in resumed} & confirmed


# ---------------------------------------------------------------------------------------------
# 4. Rejected credentials: the session waits in the spool, one warning per attempt


def warnings_with(run: CliResult, code: str) -> list[str]:
    return [
        r["message"]
        for r in log_records(run.stderr)
        if r.get("level") == "WARNING" and code in r["message"]
    ]


@pytest.mark.browser
def test_rejected_credentials_keep_the_session_in_the_spool_until_the_right_key(
    tmp_path: Path, demo_site: DemoSite, seaweedfs: SeaweedFS
) -> None:
    with bench(seaweedfs, tmp_path, demo_site) as setup:
        wrong = setup.agent(secret_key="not-the-secret")
        run = setup.run(wrong)
        result = result_of(run)
        # The script succeeded (exit 0, as documented); its recording is pending, not lost.
        assert run.returncode == 0, run.stderr
        assert result["success"] is True
        assert result["recording"]["upload_status"] == "pending"
        (session,) = setup.sessions_on_disk()
        assert not (session / STATE_NAME).exists()
        rejected = [r for r in setup.proxy.seen() if r.method in ("PUT", "POST")]
        assert rejected and {r.error_code for r in rejected} == {"SignatureDoesNotMatch"}
        messages = warnings_with(run, "SignatureDoesNotMatch")
        assert len(messages) == len(rejected) == 1, run.stderr
        assert "stays in the spool" in messages[0] and session.name in messages[0]

        # Retrying with the same wrong key: one warning per attempt, exit 1, no crash.
        seen = len(setup.proxy.seen())
        retried = wrong("spool", "flush", "--wait", "3", "--bucket", setup.bucket)
        assert retried.returncode == 1, retried.stdout + retried.stderr
        assert "Traceback" not in retried.stderr
        assert "1 sessions still pending" in retried.stdout
        attempts = setup.proxy.seen()[seen:]
        assert len(attempts) >= 2 and {r.error_code for r in attempts} == {"SignatureDoesNotMatch"}
        assert len(warnings_with(retried, "SignatureDoesNotMatch")) == len(attempts)
        assert setup.sessions_on_disk() == [session]
        assert "Contents" not in seaweedfs.client().list_objects_v2(Bucket=setup.bucket)

        # The right key uploads it.
        flushed = setup.agent()("spool", "flush", "--bucket", setup.bucket)
        assert flushed.returncode == 0, flushed.stdout + flushed.stderr
        assert "spool empty" in flushed.stdout
        assert setup.sessions_on_disk() == []
        prefix = prefix_of(result["recording"]["manifest_uri"], setup.bucket)
        check_bucket_matches_manifest(seaweedfs, setup.bucket, prefix, "TRACE")


# ---------------------------------------------------------------------------------------------
# 5. Hostile ids never leave browser-sessions/{env}/


HOSTILE_IDS = [
    "../../x",
    "a/b",
    "x" * 10_000,
    "../" * 3000,
    "ünïcødé-ид-标识-🙂",
    "",
    ".",
    "..",
    "...",
    "/",
    "\\..\\..\\windows",
    "%2e%2e%2fetc",
    "a\x00b",
    "\u202e\u200b",
    " -.- ",
    "CON",
]
ids = st.one_of(st.sampled_from(HOSTILE_IDS), st.text(), st.text(alphabet="./\\-_ %ü"))


def check_safe_id(value: str, original: str) -> None:
    assert SAFE_ID.fullmatch(value), value
    assert value not in (".", "..") and not value.startswith((".", "-"))
    assert len(value) <= MAX_ID_LENGTH
    if SAFE_ID.fullmatch(original) and original.strip("-.") == original:
        assert value == original  # an id that is already safe is kept as it is


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(env=ids, session_id=ids, task_id=ids, started=st.datetimes(timezones=st.just(UTC)))
def test_hostile_ids_never_make_a_key_outside_the_environment(
    env: str, session_id: str, task_id: str, started: datetime
) -> None:
    for value in (env, session_id, task_id):
        check_safe_id(sanitize_id(value), value)
        assert sanitize_id(sanitize_id(value)) == sanitize_id(value)
    prefix = session_prefix(env, started, session_id)
    parts = prefix.split("/")
    assert parts[:2] == [ROOT_PREFIX, sanitize_id(env)]
    assert len(parts) == 6 and parts[2:5] == [f"{started:%Y}", f"{started:%m}", f"{started:%d}"]
    assert parts[5] == sanitize_id(session_id)
    for part in parts:
        check_safe_id(part, part)
    key = f"{prefix}/{MANIFEST_NAME}"
    assert posixpath.normpath(key) == key
    assert key.startswith(f"{ROOT_PREFIX}/{parts[1]}/")


def _hostile_session(spool: Path, env: str, session_id: str, task_id: str, script: str) -> str:
    """A session folder as the recorder leaves it, with hostile ids; its key prefix."""
    started = datetime.now(UTC)
    prefix = session_prefix(env, started, session_id)
    folder = spool / prefix
    (folder / "extracts").mkdir(parents=True)
    (folder / "extracts" / "data.json").write_text(json.dumps({"id": task_id}), encoding="utf-8")
    artifact = ArtifactRecord.of_file(
        folder,
        folder / "extracts" / "data.json",
        type="extract",
        step=1,
        roles=["extract"],
        content_type="application/json",
    )
    manifest = SessionManifest(
        session_id=session_id,
        task_id=task_id,
        script=script,
        script_version="1",
        agent_name="hostile",
        env=env,
        level="INFO",
        level_source="test",
        started_at=started,
        ended_at=started,
        outcome="succeeded",
        steps=[],
        artifacts=[artifact],
        totals=SessionManifest.totals_of([artifact]),
    )
    (folder / MANIFEST_NAME).write_text(manifest.to_json(), encoding="utf-8")
    return prefix


@pytest.mark.browser
def test_hostile_task_input_and_ids_upload_inside_the_key_layout(
    tmp_path: Path, demo_site: DemoSite, seaweedfs: SeaweedFS
) -> None:
    """Task input chooses the script name and the extract and screenshot names (those two match
    `[A-Za-z0-9_-][A-Za-z0-9_.-]*`); a caller may choose session and task ids. On a strict
    server, all of it stays inside the layout, and an extract called `manifest` is just an
    artifact."""
    script = json.loads((EXAMPLES_DIR / "login.json").read_text(encoding="utf-8"))
    script["name"] = "../../../x/ünïcødé \u202e/" + "a" * 150
    script["steps"][-2]["name"] = "manifest"  # the extract: extracts/manifest.json
    script["steps"][-1]["name"] = "-..account."  # the screenshot: screenshots/-..account..png
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(script), encoding="utf-8")
    with bench(seaweedfs, tmp_path, demo_site) as setup:
        agent, refused = setup.agent(), setup.agent(secret_key="not-the-secret")
        run = setup.run(refused, script=path, level="INFO")
        result = result_of(run)
        assert run.returncode == 0 and result["recording"]["upload_status"] == "pending"
        prefix = prefix_of(result["recording"]["manifest_uri"], setup.bucket)

        # An artifact called manifest.json is not a session of its own: not in the spool...
        status = agent("spool", "status", "--bucket", setup.bucket)
        assert json.loads(status.stdout)["pending"] == [prefix], status.stdout + status.stderr
        local = agent("recordings", "ls")  # no bucket: the local folder (the spool)
        assert local.returncode == 0, local.stderr
        assert len(local.stdout.splitlines()) == 1 and result["session_id"] in local.stdout
        retried = refused("spool", "flush", "--bucket", setup.bucket)
        assert retried.returncode == 1 and "Traceback" not in retried.stderr, retried.stderr
        assert len(warnings_with(retried, "SignatureDoesNotMatch")) == 1

        distinct = {sanitize_id(v): v for v in reversed(HOSTILE_IDS)}  # one per folder
        hostile = [
            _hostile_session(setup.spool, "dev", session_id, task_id, script=task_id)
            for session_id, task_id in zip(distinct.values(), HOSTILE_IDS[::-1], strict=False)
        ]
        flush = agent("spool", "flush", "--bucket", setup.bucket)
        assert flush.returncode == 0, flush.stdout + flush.stderr
        assert "Traceback" not in flush.stderr
        assert setup.sessions_on_disk() == []

        manifest = check_bucket_matches_manifest(seaweedfs, setup.bucket, prefix, "INFO")
        names = {a.key for a in manifest.artifacts}
        assert {"extracts/manifest.json", "screenshots/-..account..png"} <= names
        client = seaweedfs.client()
        keys = [
            o["Key"]
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=setup.bucket)
            for o in page.get("Contents", [])
        ]
        assert len(keys) == len(manifest.artifacts) + 1 + 2 * len(hostile)
        for key in keys:
            parts = key.split("/")
            assert parts[:2] == [ROOT_PREFIX, "dev"] and posixpath.normpath(key) == key, key
            assert all(SAFE_ID.fullmatch(p) for p in parts[:6]), key
        for hostile_prefix in hostile:
            check_bucket_matches_manifest(seaweedfs, setup.bucket, hostile_prefix, "INFO")
            head = client.head_object(Bucket=setup.bucket, Key=f"{hostile_prefix}/{MANIFEST_NAME}")
            assert all(SAFE_ID.fullmatch(v) for v in head["Metadata"].values())

        # ... nor in the bucket.
        listing = agent("recordings", "ls", "--bucket", setup.bucket, "--level", "INFO")
        assert listing.returncode == 0, listing.stderr
        assert len(listing.stdout.splitlines()) == 1 + len(hostile)
        assert result["session_id"] in listing.stdout
        show = agent("recordings", "show", result["session_id"], "--bucket", setup.bucket)
        assert show.returncode == 0 and "extracts/manifest.json" in show.stdout, show.stderr


def test_an_unreadable_manifest_does_not_hold_up_the_other_sessions(
    tmp_path: Path, demo_site: DemoSite, seaweedfs: SeaweedFS
) -> None:
    with bench(seaweedfs, tmp_path, demo_site) as setup:
        broken = _hostile_session(setup.spool, "dev", "broken", "t-1", script="s")
        (setup.spool / broken / MANIFEST_NAME).write_text("{not json", encoding="utf-8")
        fine = _hostile_session(setup.spool, "dev", "fine", "t-2", script="s")
        flush = setup.agent()("spool", "flush", "--bucket", setup.bucket)
        assert flush.returncode == 1 and "Traceback" not in flush.stderr, flush.stderr
        assert "1 sessions still pending" in flush.stdout
        errors = [r["message"] for r in log_records(flush.stderr) if r["level"] == "ERROR"]
        assert len(errors) == 1 and "session broken cannot be uploaded" in errors[0], errors
        assert setup.sessions_on_disk() == [setup.spool / broken]
        check_bucket_matches_manifest(seaweedfs, setup.bucket, fine, "INFO")


# ---------------------------------------------------------------------------------------------
# 6. Presigned links work before expiry and are refused after it (SeaweedFS checks expiry)


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.mark.browser
def test_presigned_links_download_before_expiry_and_are_refused_after(
    seaweedfs: SeaweedFS, trace_upload: Callable[[S3Server], Upload]
) -> None:
    upload = trace_upload(seaweedfs)
    setup = upload.bench
    _, manifest = fetch_manifest(seaweedfs, setup.bucket, upload.prefix)
    expires_s = 5
    asked = time.monotonic()  # the links are signed after this
    links = setup.agent(direct=True)(
        "recordings",
        "links",
        upload.result["session_id"],
        "--expires",
        str(expires_s),
        "--bucket",
        setup.bucket,
    )
    assert links.returncode == 0, links.stderr
    urls = dict(line.split("\t", 1) for line in links.stdout.splitlines())
    assert set(urls) == {a.key for a in manifest.artifacts} | {MANIFEST_NAME}
    for url in urls.values():  # SigV4 (SigV2 links fail on SSE-KMS objects)
        assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url and f"X-Amz-Expires={expires_s}&" in url

    for artifact in manifest.artifacts:
        status, data = _get(urls[artifact.key])
        assert status == 200, artifact.key
        assert hashlib.sha256(data).hexdigest() == artifact.sha256
    assert time.monotonic() - asked < expires_s, "too slow to prove the links worked in time"

    def refused() -> tuple[int, bytes] | None:
        answer = _get(urls[MANIFEST_NAME])
        return answer if answer[0] != 200 else None

    status, body = wait_until(refused, "the expired link to be refused", timeout_s=30)
    assert status == 403 and b"AccessDenied" in body and b"expired" in body


# ---------------------------------------------------------------------------------------------
# 7. recordings ls / show / get read the bucket back


@pytest.mark.browser
def test_recordings_ls_show_and_get_read_the_session_back(
    moto_s3: MotoServer, trace_upload: Callable[[S3Server], Upload], tmp_path: Path
) -> None:
    upload = trace_upload(moto_s3)
    setup = upload.bench
    session_id = upload.result["session_id"]
    agent = setup.agent(direct=True)
    manifest_bytes, manifest = fetch_manifest(moto_s3, setup.bucket, upload.prefix)

    listing = agent("recordings", "ls", "--bucket", setup.bucket)
    assert listing.returncode == 0, listing.stderr
    (line,) = listing.stdout.splitlines()
    assert session_id in line and "TRACE" in line and "succeeded" in line
    assert f"{len(manifest.artifacts)} artifacts" in line and f"{manifest.total_bytes} B" in line
    day = f"{manifest.started_at:%Y-%m-%d}"
    assert (
        agent("recordings", "ls", "--bucket", setup.bucket, "--date", day).stdout == listing.stdout
    )
    other = agent("recordings", "ls", "--bucket", setup.bucket, "--level", "INFO")
    assert other.returncode == 0 and other.stdout == ""

    show = agent("recordings", "show", session_id, "--bucket", setup.bucket)
    assert show.returncode == 0, show.stderr
    assert f"session   {session_id}  (s3://{setup.bucket}/{upload.prefix})" in show.stdout
    assert "level     TRACE (set by --level flag)" in show.stdout
    for artifact in manifest.artifacts:
        assert re.search(
            rf"^  {re.escape(artifact.key)}\s+{artifact.type}\s+{artifact.bytes} B  "
            rf"{artifact.sha256[:12]}$",
            show.stdout,
            re.MULTILINE,
        ), artifact.key
    as_json = agent("recordings", "show", session_id, "--json", "--bucket", setup.bucket)
    assert json.loads(as_json.stdout) == json.loads(manifest_bytes)

    target = tmp_path / "download"
    got = agent("recordings", "get", session_id, str(target), "--bucket", setup.bucket)
    assert got.returncode == 0, got.stderr
    assert f"{len(manifest.artifacts) + 1} files in {target}" in got.stdout
    files = {p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()}
    assert files == {a.key for a in manifest.artifacts} | {MANIFEST_NAME}
    for artifact in manifest.artifacts:
        data = (target / artifact.key).read_bytes()
        assert hashlib.sha256(data).hexdigest() == artifact.sha256 and len(data) == artifact.bytes
    assert (target / MANIFEST_NAME).read_bytes() == manifest_bytes

    missing = agent("recordings", "show", "20200101T000000Z-000000000000", "--bucket", setup.bucket)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert missing.error_lines() and "no session" in missing.error_lines()[0]


@pytest.mark.browser
def test_a_full_spool_drops_video_first_says_so_in_the_manifest_and_uploads_the_rest(
    tmp_path: Path, demo_site: DemoSite, seaweedfs: SeaweedFS
) -> None:
    """With uploads refused, TRACE sessions pile up past a 1 MB bound: pending sessions lose
    their videos first (then traces), each drop is logged and listed in the manifest, the
    screenshots stay, and what is left uploads once the credentials are right."""
    bound = 1 * MiB
    with bench(seaweedfs, tmp_path, demo_site) as setup:
        refused = setup.agent(secret_key="not-the-secret")
        refused.env["BROWSER_AGENT_S3__SPOOL_MAX_MB"] = str(bound // MiB)
        runs_drops: list[list[tuple[str, str]]] = []  # per run: (session, key) in drop order
        while True:
            run = setup.run(refused)
            assert result_of(run)["recording"]["upload_status"] == "pending"
            runs_drops.append(
                [
                    (found.group(2), found.group(1))
                    for r in log_records(run.stderr)
                    if (found := DROPPED.search(r["message"]))
                ]
            )
            if runs_drops[-1] or len(setup.sessions_on_disk()) > 10:
                break
        assert runs_drops[-1], "the spool never reached its bound"
        sessions = setup.sessions_on_disk()
        on_disk = sum(p.stat().st_size for s in sessions for p in s.rglob("*") if p.is_file())
        manifests = {
            s: SessionManifest.model_validate_json((s / MANIFEST_NAME).read_text())
            for s in sessions
        }
        drops = [(s, d) for s, m in manifests.items() for d in m.dropped]
        kind_of = {(s.name, d["key"]): d["type"] for s, d in drops}
        logged = [pair for run_drops in runs_drops for pair in run_drops]
        assert sorted(logged) == sorted(kind_of), "every drop is logged once and in a manifest"
        for run_drops in runs_drops:  # within one pass: video, then trace, then HAR, then HTML
            kinds = [kind_of[pair] for pair in run_drops]
            assert kinds == sorted(kinds, key=DROP_ORDER.index), kinds
        kept = {a.type for m in manifests.values() for a in m.artifacts}
        for dropped_kind in {d["type"] for _, d in drops}:
            cheaper = DROP_ORDER[: DROP_ORDER.index(dropped_kind)]
            assert not kept & set(cheaper), f"{dropped_kind} dropped while {cheaper} kept"
        assert on_disk <= bound or not kept & set(DROP_ORDER)
        for session, drop in drops:
            assert not (session / drop["key"]).exists()
            assert drop["reason"] == "spool full" and drop["bytes"] > 0
            assert drop["key"] not in {a.key for a in manifests[session].artifacts}
            assert any(a.type == "screenshot" for a in manifests[session].artifacts)

        flushed = setup.agent()("spool", "flush", "--bucket", setup.bucket)
        assert flushed.returncode == 0, flushed.stderr
        assert setup.sessions_on_disk() == []
        s3 = setup.server.client()
        for session, manifest in manifests.items():
            prefix = session.relative_to(setup.spool).as_posix()
            uploaded = json.loads(
                s3.get_object(Bucket=setup.bucket, Key=f"{prefix}/{MANIFEST_NAME}")["Body"].read()
            )
            assert uploaded["dropped"] == manifest.dropped
            listed = s3.list_objects_v2(Bucket=setup.bucket, Prefix=f"{prefix}/")
            keys = {o["Key"].removeprefix(f"{prefix}/") for o in listed.get("Contents", [])}
            assert keys == {a.key for a in manifest.artifacts} | {MANIFEST_NAME}
