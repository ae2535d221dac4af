"""Real S3 servers for the storage tests, reached over HTTP.

- moto, as a `moto_server` process (accepts any credentials);
- SeaweedFS (`weed mini`), a strict server: it checks SigV4 signatures against the key pair in
  its environment, presigned-URL expiry, and keeps its data in its `-dir`, so it can be stopped
  and started again on the same folder and ports;
- `S3Proxy`, a small counting reverse proxy between the agent and a server: it records every
  request (operation, key, part, status), and lets a test hold or drop one request or stop the
  server at the moment a chosen request arrives.

The agent itself always runs as the real `browser-agent` command with a clean environment.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import boto3
import pytest
from botocore.config import Config
from conftest import CLI_TIMEOUT_S, CliResult, browser_agent_executable

REGION = "us-east-1"
ACCESS_KEY = "AKIASTORAGETESTKEY01"
SECRET_KEY = "storage-tests-secret-key-0123456789"
VENV_BIN = Path(sys.executable).parent
READY_TIMEOUT_S = 60


def _port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_ports(count: int, *, grpc_offset: int = 0) -> list[int]:
    """Free ports below Linux's ephemeral range (32768 and up), so that no outgoing connection
    takes one of them while a server that owns it is stopped for a while. With `grpc_offset`,
    the port that far above each one is free too (SeaweedFS serves gRPC there)."""
    chosen: list[int] = []
    while len(chosen) < count:
        port = random.randrange(20000, 32000 - grpc_offset)
        wanted = {port, port + grpc_offset}
        taken = set(chosen) | {p + grpc_offset for p in chosen}
        if not wanted & taken and all(_port_is_free(p) for p in wanted):
            chosen.append(port)
    return chosen


def s3_client(url: str, *, access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY) -> Any:
    """A plain boto3 client for the test's own checks (not the agent's)."""
    return boto3.client(
        "s3",
        endpoint_url=url,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name=REGION,
        config=Config(
            s3={"addressing_style": "path"},
            retries={"mode": "standard", "max_attempts": 2},
            connect_timeout=5,
            read_timeout=60,
        ),
    )


def _wait_for_s3(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    client = s3_client(url)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        try:
            client.list_buckets()
            return
        except Exception:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"{url} did not answer: {log.read_text(errors='replace')[-3000:]}"
                ) from None
            time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes], *, graceful: bool = True) -> None:
    if process.poll() is None:
        if graceful:
            process.terminate()
        else:
            process.kill()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


class S3Server:
    """What the tests need from a server: its URL, a client, fresh buckets."""

    name = "s3"

    def __init__(self, url: str) -> None:
        self.url = url

    def client(self) -> Any:
        return s3_client(self.url)

    def new_bucket(self) -> str:
        bucket = f"rec-{self.name}-{random.getrandbits(40):010x}"
        self.client().create_bucket(Bucket=bucket)
        return bucket


class MotoServer(S3Server):
    """`moto_server` as a process. Its default minimum part size (5 MiB) is left alone: boto3
    raises any smaller `multipart_chunksize` to 5 MiB itself, so only last parts are smaller."""

    name = "moto"

    def __init__(self, folder: Path) -> None:
        port = free_ports(1)[0]
        super().__init__(f"http://127.0.0.1:{port}")
        self.log = folder / "moto.log"
        with self.log.open("wb") as sink:
            self.process = subprocess.Popen(
                [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        try:
            _wait_for_s3(self.url, self.process, self.log)
        except Exception:
            _stop(self.process)
            raise

    def stop(self) -> None:
        _stop(self.process)


class SeaweedFS(S3Server):
    """`weed mini` on free ports, with one access key pair (as an admin identity)."""

    name = "seaweedfs"
    _PORTS = ("s3", "master", "volume", "filer", "admin")

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.data = folder / "data"
        self.data.mkdir(parents=True, exist_ok=True)
        # Each component serves gRPC on its port + 10000 (its maintenance worker dials the admin
        # server there, whatever -admin.port.grpc says).
        numbers = free_ports(len(self._PORTS), grpc_offset=10000)
        self.ports = dict(zip(self._PORTS, numbers, strict=True))
        super().__init__(f"http://127.0.0.1:{self.ports['s3']}")
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.start()

    def command(self) -> list[str]:
        args = [
            str(VENV_BIN / "weed"),
            "mini",
            f"-dir={self.data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-admin.ui=false",
            "-master.telemetry=false",
            "-webdav=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
        ]
        return args + [f"-{part}.port={port}" for part, port in self.ports.items()]

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        self.starts += 1
        log = self.folder / f"weed-{self.starts}.log"
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.folder),
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        }
        with log.open("wb") as sink:
            self.process = subprocess.Popen(
                self.command(),
                cwd=self.folder,
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            _wait_for_s3(self.url, self.process, log)
        except Exception:
            self.stop()
            raise

    def stop(self, *, graceful: bool = True) -> None:
        """SIGTERM and wait (what it wrote is kept for the next start), or just SIGKILL."""
        if self.process is not None:
            _stop(self.process, graceful=graceful)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


@pytest.fixture(scope="session")
def moto_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = MotoServer(tmp_path_factory.mktemp("moto"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    server = SeaweedFS(tmp_path_factory.mktemp("seaweedfs"))
    try:
        yield server
    finally:
        server.stop(graceful=False)  # its data is not needed again; a clean stop can take 10 s


@pytest.fixture(scope="session", params=["moto", "seaweedfs"])
def s3_server(request: pytest.FixtureRequest) -> S3Server:
    """Each of the two servers in turn."""
    server: S3Server = request.getfixturevalue(
        "moto_s3" if request.param == "moto" else "seaweedfs"
    )
    return server


# ---------------------------------------------------------------------------------------------
# The counting reverse proxy


@dataclass
class ProxiedRequest:
    method: str
    bucket: str
    key: str
    query: dict[str, str]
    at: float
    local_copy: bool | None = None  # whether the session was still on local disk then
    status: int | None = None  # None: no answer reached the agent (dropped, server down)
    error_code: str | None = None

    @property
    def operation(self) -> str:
        q = self.query
        if self.method == "PUT":
            if "partNumber" in q:
                return "UploadPart"
            return "PutObjectTagging" if "tagging" in q else "PutObject"
        if self.method == "POST":
            if "uploads" in q:
                return "CreateMultipartUpload"
            if "uploadId" in q:
                return "CompleteMultipartUpload"
        if self.method == "DELETE" and "uploadId" in q:
            return "AbortMultipartUpload"
        return {"GET": "GetObject", "HEAD": "HeadObject", "DELETE": "DeleteObject"}.get(
            self.method, self.method
        )

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def part(self) -> int | None:
        return int(self.query["partNumber"]) if "partNumber" in self.query else None


COMPLETING = ("PutObject", "CompleteMultipartUpload")
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "expect",
    "content-length",
}


class S3Proxy:
    """Forwards to `upstream` unchanged (the Host header too, so signatures still match).

    `hold(request)` runs before a request is forwarded and may block; returning False drops
    the request: the agent's connection is closed without an answer, as when a server dies.
    `local_copy()` is sampled for every request.
    """

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.requests: list[ProxiedRequest] = []
        self.hold: Callable[[ProxiedRequest], bool] | None = None
        self.local_copy: Callable[[], bool] | None = None
        self._lock = threading.Lock()
        self._server = _ProxyServer(("127.0.0.1", 0), _ProxyHandler)
        self._server.proxy = self
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,))
        self._thread.daemon = True
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> S3Proxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def seen(self) -> list[ProxiedRequest]:
        with self._lock:
            return list(self.requests)

    def completions(self, key: str) -> list[ProxiedRequest]:
        """Successful PutObject / CompleteMultipartUpload requests for `key`."""
        return [r for r in self.seen() if r.key == key and r.ok and r.operation in COMPLETING]

    def writes(self) -> list[ProxiedRequest]:
        return [r for r in self.seen() if r.method in ("PUT", "POST")]

    def _admit(self, request: ProxiedRequest) -> bool:
        if self.local_copy is not None:
            request.local_copy = self.local_copy()
        with self._lock:
            self.requests.append(request)
        return self.hold(request) if self.hold is not None else True


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    proxy: S3Proxy


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _ProxyServer

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._relay()

    do_HEAD = do_PUT = do_POST = do_DELETE = do_GET

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _relay(self) -> None:
        proxy = self.server.proxy
        body = self._read_body()
        target = urlsplit(self.path)
        bucket, _, key = unquote(target.path).lstrip("/").partition("/")
        query = {k: v[0] for k, v in parse_qs(target.query, keep_blank_values=True).items()}
        record = ProxiedRequest(self.command, bucket, key, query, time.monotonic())
        if not proxy._admit(record):
            self.close_connection = True
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        if body or self.command in ("PUT", "POST"):
            headers["Content-Length"] = str(len(body))
        upstream = http.client.HTTPConnection(*proxy.upstream, timeout=120)
        try:
            upstream.request(self.command, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            data = response.read()
        except OSError:
            self.close_connection = True  # the server is down: the agent sees a dead connection
            return
        finally:
            upstream.close()
        record.status = response.status
        if response.status >= 300 and b"<Code>" in data:
            record.error_code = data.split(b"<Code>", 1)[1].split(b"</Code>", 1)[0].decode()
        self.send_response_only(response.status, response.reason)
        for name, value in response.getheaders():
            if name.lower() not in _HOP_BY_HOP:
                self.send_header(name, value)
        if self.command == "HEAD":
            self.send_header("Content-Length", response.getheader("Content-Length") or "0")
        else:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


# ---------------------------------------------------------------------------------------------
# The agent as a command


def agent_environment(
    endpoint: str,
    home: Path,
    spool: Path,
    *,
    secret_key: str = SECRET_KEY,
    settings: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """A clean environment: no ambient AWS or agent settings, the test's endpoint and keys."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "BROWSER_AGENT_")) and name != "RECORDING_LEVEL_OVERRIDE"
    }
    env.update(
        {
            "HOME": str(home),
            "AWS_CONFIG_FILE": str(home / "aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "aws-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": secret_key,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": endpoint,
            "BROWSER_AGENT_SPOOL_DIR": str(spool),
            "BROWSER_AGENT_LOG__FORMAT": "json",
        }
    )
    env.update(settings or {})
    return env


@dataclass
class Agent:
    """Runs `browser-agent` in `cwd` with exactly `env`."""

    cwd: Path
    env: dict[str, str]
    executable: Path = field(default_factory=browser_agent_executable)

    def __call__(self, *args: str | Path, timeout_s: float = CLI_TIMEOUT_S) -> CliResult:
        completed = subprocess.run(
            [str(self.executable), *(str(a) for a in args)],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        return CliResult(completed.returncode, completed.stdout, completed.stderr)

    @contextlib.contextmanager
    def started(self, *args: str | Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
        """The command as a running process (its own process group), output to `log`; any of
        its processes still alive at the end are killed."""
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [str(self.executable), *(str(a) for a in args)],
                cwd=self.cwd,
                env=self.env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(30)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # its Playwright driver and Chromium
