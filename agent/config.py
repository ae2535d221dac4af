"""Settings: read once, here, from the dynaconf layers, and passed down as typed values."""

from __future__ import annotations

import functools
import os
import re
import socket
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dynaconf import Dynaconf, inspect_settings

from agent.errors import ConfigurationError
from agent.levels import LevelChoice, RecordingLevel
from agent.resources import bundled_path

ENV_PREFIX = "BROWSER_AGENT"
OVERRIDE_VAR = "RECORDING_LEVEL_OVERRIDE"
SETTINGS_FILE_VAR = "BROWSER_AGENT_SETTINGS_FILE"
LOCAL_SETTINGS_CANDIDATES = (
    Path("settings.local.toml"),
    Path("~/.config/browser-agent/settings.toml").expanduser(),
)


@dataclass(frozen=True)
class S3Settings:
    multipart_threshold_mb: float = 8
    multipart_chunksize_mb: float = 8
    max_concurrency: int = 4
    server_side_encryption: str | None = "AES256"
    kms_key_id: str | None = None
    spool_max_mb: float = 2048
    presign_expiry_seconds: int = 900


@dataclass(frozen=True)
class WorkerSettings:
    """`[worker]`: how `browser-agent run` polls, heartbeats, drains and reports liveness."""

    concurrency: int = 1
    heartbeat_seconds: float = 20
    drain_seconds: float = 100
    poll_backoff_seconds: float = 1
    poll_backoff_max_seconds: float = 60
    template_source: str | None = None
    health_file: Path = Path("/tmp/browser-agent.health")
    health_interval_seconds: float = 10


NOVA_ACT_AUTHS = ("iam", "api_key")
# The Nova Act service's own rule for workflow definition names.
_WORKFLOW_DEFINITION_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,40}$")


@dataclass(frozen=True)
class NovaActSettings:
    """`[nova_act]`: whether `act` steps run, and how the agent signs in to Nova Act."""

    enabled: bool = False
    auth: str = "iam"
    workflow_definition_name: str | None = None
    model_id: str | None = None
    region: str = "us-east-1"
    endpoint_url: str | None = None
    api_key_ref: str | None = None
    timeout_seconds: int = 300
    max_steps: int = 30
    ignore_https_errors: bool = False


@dataclass(frozen=True)
class AgentSettings:
    env: str
    agent_name: str
    activity_arn: str | None
    s3_bucket: str | None
    aws_region: str | None
    spool_dir: Path
    level: LevelChoice
    level_by_agent: dict[str, RecordingLevel]
    ring_size: int
    browser_executable_path: str | None
    headless: bool
    step_timeout_ms: int
    navigation_timeout_ms: int
    log_format: str
    log_level: str
    s3: S3Settings
    level_override: str | None
    settings_files: list[Path] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    worker: WorkerSettings = field(default_factory=WorkerSettings)
    aws_profile: str | None = None
    nova_act: NovaActSettings = field(default_factory=NovaActSettings)

    def level_for(
        self,
        *,
        script_level: str | None = None,
        task_level: str | None = None,
        task_source: str = "task input recording_level",
    ) -> LevelChoice:
        """The level of spec 4.2: settings < agent < script < task < RECORDING_LEVEL_OVERRIDE."""
        choice = self.level
        if self.agent_name in self.level_by_agent:
            choice = LevelChoice(
                self.level_by_agent[self.agent_name], f"recording.level_by_agent.{self.agent_name}"
            )
        for value, source in (
            (script_level, "script session.recording_level"),
            (task_level, task_source),
            (self.level_override, f"{OVERRIDE_VAR} environment variable"),
        ):
            if value is not None and value != "":
                choice = LevelChoice(_parse_level(value, source), source)
        return choice


def load_settings(
    *,
    env: str | None = None,
    settings_file: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> AgentSettings:
    """Read every layer (dynaconf reads the process environment); `overrides` are command-line
    flags, above every settings layer."""
    environ = os.environ
    files = [bundled_path("settings.toml")]
    local = _local_settings_file(settings_file, environ)
    env, env_source = _chosen_env(env, environ, local)
    if local is not None:
        files.append(local)
    raw = Dynaconf(
        envvar_prefix=ENV_PREFIX,
        settings_files=[str(f) for f in files],
        environments=True,
        env=env,
        env_switcher=f"{ENV_PREFIX}_ENV_SWITCHER_UNUSED",
        merge_enabled=True,
        load_dotenv=False,
    )
    for key, value in (overrides or {}).items():
        if value is not None:
            raw.set(key, value)
    sources = {key: _source_of(raw, key, files) for key in _REPORTED_KEYS}
    for key, value in (overrides or {}).items():
        if value is not None:
            sources[key] = "command-line flag"
    sources["env"] = env_source
    return _typed(raw, env, files, sources, environ)


def _chosen_env(
    flag: str | None, environ: Mapping[str, str], local: Path | None
) -> tuple[str, str]:
    """The environment section: --env, BROWSER_AGENT_ENV, the local file's [default] env
    (written by `browser-agent setup`), else dev."""
    if flag:
        return flag, "command-line flag"
    if environ.get(f"{ENV_PREFIX}_ENV"):
        return environ[f"{ENV_PREFIX}_ENV"], f"environment variable {ENV_PREFIX}_ENV"
    if local is not None and _toml_has(local, "default", "env"):
        value = _toml_sections(local, local.stat().st_mtime)["default"]["env"]
        return str(value), f"local settings file {local} [default]"
    return "dev", "built-in default"


_REPORTED_KEYS = (
    "agent_name",
    "activity_arn",
    "s3_bucket",
    "aws_region",
    "aws_profile",
    "spool_dir",
    "recording.level",
    "recording.ring_size",
    "browser.executable_path",
    "browser.headless",
    "browser.step_timeout_ms",
    "log.format",
    "nova_act.enabled",
    "nova_act.auth",
    "nova_act.workflow_definition_name",
    "nova_act.endpoint_url",
)


def _typed(
    raw: Any, env: str, files: list[Path], sources: dict[str, str], environ: Mapping[str, str]
) -> AgentSettings:
    def get(key: str, default: Any = None) -> Any:
        return raw.get(key, default)

    def bounded(key: str, low: float, high: float, kind: type[float] | type[int]) -> Any:
        value = get(key)
        try:
            number = kind(value)
        except (TypeError, ValueError):
            number = low - 1
        if not low <= number <= high:
            what = "a whole number" if kind is int else "a number"
            raise ConfigurationError(
                f"setting {key} = {value!r} (from {sources.get(key, _source_of(raw, key, files))})"
                f" must be {what} from {low} to {high}"
            )
        return number

    def as_int(key: str, low: int, high: int) -> int:
        return int(bounded(key, low, high, int))

    def as_number(key: str, low: float, high: float) -> float:
        return float(bounded(key, low, high, float))

    level_source = sources["recording.level"]
    by_agent = {
        str(name): _parse_level(value, f"recording.level_by_agent.{name}")
        for name, value in (get("recording.level_by_agent") or {}).items()
    }
    if not get("agent_name"):
        sources["agent_name"] = "derived from the host name (and ECS task id)"
    log_format = str(get("log.format", "auto")).lower()
    if log_format not in {"auto", "json", "text"}:
        raise ConfigurationError(
            f"setting log.format = {log_format!r} (from {sources['log.format']}) must be one of "
            "auto, json, text"
        )
    return AgentSettings(
        env=env,
        agent_name=str(get("agent_name") or "") or default_agent_name(environ),
        activity_arn=str(get("activity_arn") or "") or None,
        s3_bucket=str(get("s3_bucket") or "") or None,
        aws_region=str(get("aws_region") or "") or None,
        aws_profile=str(get("aws_profile") or "") or None,
        spool_dir=Path(str(get("spool_dir") or "recordings")).expanduser(),
        level=LevelChoice(_parse_level(get("recording.level"), level_source), level_source),
        level_by_agent=by_agent,
        ring_size=as_int("recording.ring_size", 0, 100),
        browser_executable_path=str(get("browser.executable_path") or "") or None,
        headless=_as_bool(get("browser.headless", True)),
        step_timeout_ms=as_int("browser.step_timeout_ms", 1, 600_000),
        navigation_timeout_ms=as_int("browser.navigation_timeout_ms", 1, 600_000),
        log_format=log_format,
        log_level=str(get("log.level", "INFO")).upper(),
        s3=S3Settings(
            multipart_threshold_mb=as_number("s3.multipart_threshold_mb", 0.001, 5 * 1024),
            multipart_chunksize_mb=as_number("s3.multipart_chunksize_mb", 5, 5 * 1024),
            max_concurrency=as_int("s3.max_concurrency", 1, 64),
            server_side_encryption=str(get("s3.server_side_encryption") or "") or None,
            kms_key_id=str(get("s3.kms_key_id") or "") or None,
            spool_max_mb=as_number("s3.spool_max_mb", 1, 10**7),
            presign_expiry_seconds=as_int("s3.presign_expiry_seconds", 1, 7 * 24 * 3600),
        ),
        level_override=_checked_override(environ.get(OVERRIDE_VAR)),
        settings_files=files,
        sources=sources,
        worker=WorkerSettings(
            concurrency=as_int("worker.concurrency", 1, 64),
            heartbeat_seconds=as_number("worker.heartbeat_seconds", 0, 3600),
            drain_seconds=as_number("worker.drain_seconds", 0, 3600),
            poll_backoff_seconds=as_number("worker.poll_backoff_seconds", 0.01, 600),
            poll_backoff_max_seconds=as_number("worker.poll_backoff_max_seconds", 0.01, 3600),
            template_source=str(get("worker.template_source") or "") or None,
            health_file=Path(str(get("worker.health_file") or "/tmp/browser-agent.health")),
            health_interval_seconds=as_number("worker.health_interval_seconds", 0.1, 3600),
        ),
        nova_act=_nova_act_settings(get, as_int, sources, environ),
    )


def _nova_act_settings(
    get: Any, as_int: Any, sources: dict[str, str], environ: Mapping[str, str]
) -> NovaActSettings:
    """`[nova_act]`, checked only when enabled (a disabled block may be left half filled)."""

    def text(key: str) -> str | None:
        return str(get(f"nova_act.{key}") or "").strip() or None

    enabled = _as_bool(get("nova_act.enabled", False))
    auth = (text("auth") or "iam").lower()
    if not text("endpoint_url"):
        for variable in ("AWS_ENDPOINT_URL_NOVA_ACT", "AWS_ENDPOINT_URL"):
            if environ.get(variable):
                sources["nova_act.endpoint_url"] = f"environment variable {variable}"
                break
    settings = NovaActSettings(
        enabled=enabled,
        auth=auth,
        workflow_definition_name=text("workflow_definition_name"),
        model_id=text("model_id"),
        region=text("region") or "us-east-1",
        # As boto3 does for every other service: the service's own variable, then the global one.
        endpoint_url=text("endpoint_url")
        or environ.get("AWS_ENDPOINT_URL_NOVA_ACT")
        or environ.get("AWS_ENDPOINT_URL")
        or None,
        api_key_ref=text("api_key_ref"),
        timeout_seconds=as_int("nova_act.timeout_seconds", 2, 1800),
        max_steps=as_int("nova_act.max_steps", 1, 199),
        ignore_https_errors=_as_bool(get("nova_act.ignore_https_errors", False)),
    )
    if not enabled:
        return settings

    def invalid(key: str, why: str) -> ConfigurationError:
        value = get(f"nova_act.{key}")
        where = sources.get(f"nova_act.{key}") or "built-in default"
        return ConfigurationError(f"setting nova_act.{key} = {value!r} (from {where}) {why}")

    if auth not in NOVA_ACT_AUTHS:
        raise invalid("auth", f"must be one of {', '.join(NOVA_ACT_AUTHS)}")
    name = settings.workflow_definition_name
    if auth == "iam" and not (name and _WORKFLOW_DEFINITION_NAME.fullmatch(name)):
        raise invalid(
            "workflow_definition_name",
            "must name the Nova Act workflow definition (letters, digits, _ and -, at most 40) "
            "when nova_act.auth is iam",
        )
    if auth == "api_key" and not settings.api_key_ref:
        raise invalid(
            "api_key_ref",
            "must be a secret reference (env:NAME or secretsmanager:id#key) when nova_act.auth "
            "is api_key; the key itself never goes in a settings file",
        )
    return settings


def _parse_level(value: object, source: str) -> RecordingLevel:
    try:
        return RecordingLevel.parse(value, where=source)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None


def _checked_override(value: str | None) -> str | None:
    if value:
        _parse_level(value, f"{OVERRIDE_VAR} environment variable")
    return value or None


def _as_bool(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in {"0", "false", "no", "off", ""}
    return bool(value)


def _local_settings_file(explicit: Path | None, environ: Mapping[str, str]) -> Path | None:
    chosen = explicit or (
        Path(environ[SETTINGS_FILE_VAR]) if environ.get(SETTINGS_FILE_VAR) else None
    )
    if chosen is not None:
        if not chosen.is_file():
            raise ConfigurationError(f"settings file {chosen} does not exist")
        return chosen
    return next((p for p in LOCAL_SETTINGS_CANDIDATES if p.is_file()), None)


def _source_of(raw: Any, key: str, files: list[Path]) -> str:
    """Which layer set `key`: the newest entry of dynaconf's load history that really holds it.

    dynaconf records a merged table under every later layer, so each entry is checked against
    the file section or environment variable it names.
    """
    report = inspect_settings(raw, key=key, print_report=False)
    for entry in report.get("history") or []:
        if entry["loader"].startswith("env"):
            variable = f"{ENV_PREFIX}_{key.upper().replace('.', '__')}"
            if variable in os.environ:
                return f"environment variable {variable}"
            continue
        path, section = Path(str(entry["identifier"])), str(entry["env"]).lower()
        if path.is_file() and _toml_has(path, section, key):
            name = "settings.toml" if path == files[0] else f"local settings file {path}"
            return f"{name} [{section}]"
    return "built-in default"


@functools.cache
def _toml_sections(path: Path, mtime: float) -> dict[str, Any]:
    with path.open("rb") as handle:
        return {k.lower(): v for k, v in tomllib.load(handle).items()}


def _toml_has(path: Path, section: str, key: str) -> bool:
    node: Any = _toml_sections(path, path.stat().st_mtime).get(section, {})
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def default_agent_name(environ: Mapping[str, str]) -> str:
    """Host name, plus the ECS task id when running on ECS."""
    host = socket.gethostname().split(".")[0] or "agent"
    metadata = environ.get("ECS_CONTAINER_METADATA_URI_V4", "")
    task = metadata.rstrip("/").rsplit("/", 1)[-1].split("-")[0] if metadata else ""
    return f"{host}-{task}" if task else host


def describe_settings(settings: AgentSettings, choice: LevelChoice) -> dict[str, Any]:
    """Every reported setting with its value and source, for `config show`."""
    values: dict[str, Any] = {
        "env": settings.env,
        "agent_name": settings.agent_name,
        "activity_arn": settings.activity_arn,
        "s3_bucket": settings.s3_bucket,
        "aws_region": settings.aws_region,
        "aws_profile": settings.aws_profile,
        "spool_dir": str(settings.spool_dir),
        "recording.level": settings.level.level.name,
        "recording.ring_size": settings.ring_size,
        "browser.executable_path": settings.browser_executable_path,
        "browser.headless": settings.headless,
        "browser.step_timeout_ms": settings.step_timeout_ms,
        "log.format": settings.log_format,
        "nova_act.enabled": settings.nova_act.enabled,
        "nova_act.auth": settings.nova_act.auth,
        "nova_act.workflow_definition_name": settings.nova_act.workflow_definition_name,
        "nova_act.endpoint_url": settings.nova_act.endpoint_url,
    }
    sources = dict(settings.sources)
    sources.setdefault(
        "env",
        "command-line flag or BROWSER_AGENT_ENV" if settings.env != "dev" else "built-in default",
    )
    return {
        "settings": {
            key: {"value": value, "source": sources.get(key, "built-in default")}
            for key, value in values.items()
        },
        "recording_level": {"level": choice.level.name, "source": choice.source},
        "level_by_agent": {name: level.name for name, level in settings.level_by_agent.items()},
        "settings_files": [str(f) for f in settings.settings_files],
    }
