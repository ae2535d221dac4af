"""No static keys: `setup` and `doctor` with the credentials ECS, EC2, profiles and environment
variables give, against a moto server that checks signatures and IAM policies (spec 6)."""

from __future__ import annotations

import json
import os
import secrets
import stat
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from botocore.credentials import RefreshableCredentials
from botocore.stub import Stubber
from conftest import EXAMPLES_DIR, Cli, CliResult
from iam_harness import (
    ACCOUNT,
    AGENT_ACTIONS,
    REGION,
    MotoIam,
    RoleCredentials,
    Stack,
    agent_policy,
    container_endpoint,
    imds_endpoint,
    moto_iam,
)

from agent.access import CallerIdentity, check_task_answers
from agent.aws import AwsClients

__all__ = ["moto_iam"]  # the fixture, for pytest
AGENT = "agent-7"


@pytest.fixture(autouse=True)
def no_ambient_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("AWS_") and name != "AWS_CA_BUNDLE":
            monkeypatch.delenv(name)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    (path / ".aws").mkdir(parents=True)
    return path


def aws_env(home: Path, moto: MotoIam, **extra: str) -> dict[str, str]:
    """What a container sees: no keys, the endpoint, the region, its own HOME."""
    env = {
        "HOME": str(home),
        "AWS_CONFIG_FILE": str(home / ".aws" / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / ".aws" / "credentials"),
        "AWS_ENDPOINT_URL": moto.url,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
        "BROWSER_AGENT_AGENT_NAME": AGENT,
    }
    env.update(extra)
    assert "AWS_ACCESS_KEY_ID" not in env or "AWS_ACCESS_KEY_ID" in extra
    return env


def settings_path(home: Path) -> Path:
    return home / ".config" / "browser-agent" / "settings.toml"


def no_secrets(texts: list[str], secret_values: list[str]) -> None:
    for value in secret_values:
        assert value, "an empty secret proves nothing"
        for text in texts:
            assert value not in text


def one_error(result: CliResult) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.error_lines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@dataclass
class EcsTask:
    stack: Stack
    source: RoleCredentials
    endpoint: dict[str, str]


@pytest.fixture
def ecs_task(moto_iam: MotoIam) -> Iterator[EcsTask]:
    """A stack for a fresh environment and a task role with the agent's policy, served as ECS
    serves it."""
    stack = moto_iam.stack(f"ecs{secrets.token_hex(2)}")
    source = RoleCredentials(
        moto_iam, moto_iam.role(f"task-{stack.env}", agent_policy(stack.bucket))
    )
    with container_endpoint(source, secrets.token_hex(8)) as endpoint:
        yield EcsTask(stack, source, endpoint)


def test_setup_with_ecs_task_role_writes_settings_that_config_show_reports(
    cli: Cli, home: Path, moto_iam: MotoIam, ecs_task: EcsTask
) -> None:
    stack, source = ecs_task.stack, ecs_task.source
    env = aws_env(home, moto_iam, **ecs_task.endpoint)

    result = cli("setup", "--env", stack.env, env=env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"assumed-role/task-{stack.env}/agent-1" in result.stdout  # signed with the role's key
    assert source.fetches >= 1
    path = settings_path(home)
    written = tomllib.loads(path.read_text())
    assert written["default"] == {"env": stack.env}
    assert written[stack.env] == {
        "activity_arn": stack.activity_arn,
        "s3_bucket": stack.bucket,
        "aws_region": REGION,
    }
    probe = moto_iam.client("s3").get_object(
        Bucket=stack.bucket, Key=f"browser-sessions/_probe/{AGENT}.json"
    )
    assert json.loads(probe["Body"].read())["agent"] == AGENT

    shown = cli("config", "show", "--json", env=env)
    assert shown.returncode == 0, shown.stderr
    described = json.loads(shown.stdout)["settings"]
    for key, value in (("activity_arn", stack.activity_arn), ("s3_bucket", stack.bucket)):
        assert described[key] == {
            "value": value,
            "source": f"local settings file {path} [{stack.env}]",
        }
    assert described["env"] == {
        "value": stack.env,
        "source": f"local settings file {path} [default]",
    }
    no_secrets(
        [result.stdout, result.stderr, shown.stdout, path.read_text()], source.secret_strings()
    )


def test_setup_and_doctor_with_ec2_instance_role_over_imdsv2(
    cli: Cli, home: Path, moto_iam: MotoIam
) -> None:
    stack = moto_iam.stack(f"ec2{secrets.token_hex(2)}")
    role_name = f"instance-{stack.env}"
    source = RoleCredentials(moto_iam, moto_iam.role(role_name, agent_policy(stack.bucket)))
    with imds_endpoint(source, role_name) as endpoint:
        env = aws_env(home, moto_iam, **endpoint)
        env.pop("AWS_EC2_METADATA_DISABLED")
        setup = cli("setup", "--env", stack.env, env=env)
        doctor = cli("doctor", env=env)

    assert setup.returncode == 0, setup.stdout + setup.stderr
    assert f"assumed-role/{role_name}/agent-" in setup.stdout
    assert tomllib.loads(settings_path(home).read_text())[stack.env]["s3_bucket"] == stack.bucket
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "the EC2 instance role (instance metadata service)" in doctor.stdout
    assert "ok      s3:PutObjectTagging" in doctor.stdout
    assert "all required checks passed" in doctor.stdout
    no_secrets([setup.stdout, setup.stderr, doctor.stdout, doctor.stderr], source.secret_strings())


# botocore refreshes 15 minutes before expiry: credentials that expire in 15 min + 2 s are due
# for a refresh 2 s after they were handed out.
SHORT_LIFETIME_S = 15 * 60 + 2


def _assert_refreshes(source: RoleCredentials, role: str) -> None:
    clients = AwsClients(region=REGION)
    sts = clients.sts()
    assert sts.get_caller_identity()["Arn"].endswith(f"assumed-role/{role}/agent-1")
    assert isinstance(clients.session.get_credentials(), RefreshableCredentials)
    time.sleep(3)
    assert sts.get_caller_identity()["Arn"].endswith(f"assumed-role/{role}/agent-2")
    clients.ssm().get_parameters(Names=["/browser-agent/none/activity-arn"])  # signed with #2
    assert source.fetches == 2


def test_container_credentials_that_expire_mid_run_are_fetched_again(
    moto_iam: MotoIam, monkeypatch: pytest.MonkeyPatch, home: Path
) -> None:
    source = RoleCredentials(
        moto_iam, moto_iam.role("refresh-ecs", agent_policy("any")), SHORT_LIFETIME_S
    )
    with container_endpoint(source, "token-1") as endpoint:
        for name, value in aws_env(home, moto_iam, **endpoint).items():
            monkeypatch.setenv(name, value)
        _assert_refreshes(source, "refresh-ecs")


def test_instance_role_credentials_that_expire_mid_run_are_fetched_again(
    moto_iam: MotoIam, monkeypatch: pytest.MonkeyPatch, home: Path
) -> None:
    # botocore treats IMDS credentials within 15 min + 2 to 10 min (random) of expiry as stale and
    # extends them; take the random part out so 15 min + 2 s is neither stale nor waited for.
    monkeypatch.setattr("botocore.utils.random.randint", lambda low, high: 0)
    source = RoleCredentials(
        moto_iam, moto_iam.role("refresh-ec2", agent_policy("any")), SHORT_LIFETIME_S
    )
    with imds_endpoint(source, "refresh-ec2") as endpoint:
        for name, value in aws_env(home, moto_iam, **endpoint).items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("AWS_EC2_METADATA_DISABLED")
        _assert_refreshes(source, "refresh-ec2")


def test_setup_with_missing_parameters_says_to_deploy_the_stack(
    cli: Cli, home: Path, moto_iam: MotoIam, ecs_task: EcsTask
) -> None:
    env = aws_env(home, moto_iam, **ecs_task.endpoint)
    line = one_error(cli("setup", "--env", "nostack", env=env))
    assert "/browser-agent/nostack/activity-arn, /browser-agent/nostack/s3-bucket" in line
    assert f"not found in region {REGION}" in line and "deploy the infra stack" in line
    assert not settings_path(home).exists()


def test_setup_with_ssm_denied_names_the_permission_and_the_role(
    cli: Cli, home: Path, moto_iam: MotoIam
) -> None:
    stack = moto_iam.stack(f"nossm{secrets.token_hex(2)}")
    policy = agent_policy(stack.bucket, actions=["states:DescribeActivity"])
    source = RoleCredentials(moto_iam, moto_iam.role(f"task-{stack.env}", policy))
    with container_endpoint(source, "t") as endpoint:
        result = cli("setup", "--env", stack.env, env=aws_env(home, moto_iam, **endpoint))
    line = one_error(result)
    assert "denied (AccessDenied)" in line
    assert f"allow ssm:GetParameters on arn:aws:ssm:{REGION}:" in line
    assert f"in the policy of role task-{stack.env}" in line


def test_doctor_names_each_missing_permission_with_its_fix(
    cli: Cli, home: Path, moto_iam: MotoIam
) -> None:
    stack = moto_iam.stack(f"doc{secrets.token_hex(2)}")
    role = f"task-{stack.env}"
    policy = agent_policy(stack.bucket, s3=False, actions=["ssm:GetParameters"])
    source = RoleCredentials(moto_iam, moto_iam.role(role, policy))
    with container_endpoint(source, "t") as endpoint:
        env = aws_env(home, moto_iam, **endpoint)
        setup = cli("setup", "--env", stack.env, env=env)
        doctor = cli("doctor", env=env)

    assert setup.returncode == 1, setup.stdout + setup.stderr
    assert any("states:DescribeActivity" in e for e in setup.error_lines())
    assert any("s3:PutObject " in e for e in setup.error_lines())
    assert doctor.returncode == 1, doctor.stdout + doctor.stderr
    out = doctor.stdout
    assert f"MISSING states:DescribeActivity on {stack.activity_arn}: denied" in out
    assert f"MISSING s3:PutObject on arn:aws:s3:::{stack.bucket}/browser-sessions/*" in out
    assert (
        f"fix: allow s3:PutObject on arn:aws:s3:::{stack.bucket}/browser-sessions/* in the "
        f"policy of role {role}"
    ) in out
    for answer in ("SendTaskHeartbeat", "SendTaskSuccess", "SendTaskFailure"):
        assert f"MISSING states:{answer} on {stack.activity_arn}: denied" in out
    assert (
        "missing: states:DescribeActivity, states:SendTaskHeartbeat, states:SendTaskSuccess, "
        "states:SendTaskFailure, s3:PutObject"
    ) in out
    assert "ok      ssm:GetParameters" in out


def test_doctor_probes_each_task_answer_and_says_what_it_cannot_check(
    cli: Cli, home: Path, moto_iam: MotoIam
) -> None:
    stack = moto_iam.stack(f"ans{secrets.token_hex(2)}")
    role = f"task-{stack.env}"
    actions = [a for a in AGENT_ACTIONS if a != "states:SendTaskSuccess"]
    source = RoleCredentials(
        moto_iam, moto_iam.role(role, agent_policy(stack.bucket, actions=actions))
    )
    with container_endpoint(source, "t") as endpoint:
        env = aws_env(home, moto_iam, **endpoint)
        assert cli("setup", "--env", stack.env, env=env).returncode == 0
        doctor = cli("doctor", env=env)
        as_json = cli("doctor", "--json", env=env)

    assert doctor.returncode == 1, doctor.stdout + doctor.stderr
    out = doctor.stdout
    assert f"MISSING states:SendTaskSuccess on {stack.activity_arn}: denied (AccessDenied)" in out
    assert (
        f"fix: allow states:SendTaskSuccess on {stack.activity_arn} in the policy of role {role}"
    ) in out
    # moto checks IAM and then accepts any token: allowed, and answers nothing.
    assert "ok      states:SendTaskHeartbeat: allowed" in out
    assert "ok      states:SendTaskFailure: allowed" in out
    assert "missing: states:SendTaskSuccess (fixes above)" in out
    assert "not checked states:GetActivityTask: a call could take a real task" in out
    report = json.loads(as_json.stdout)
    assert report["ok"] is False
    assert [c["name"] for c in report["checks"] if not c["ok"]] == ["states:SendTaskSuccess"]
    assert report["not_checked"][0]["name"] == "states:GetActivityTask"


def test_task_answer_probe_reads_token_refusals_and_denials_elsewhere() -> None:
    """What AWS may answer a made-up token: a refusal of the token passes; a denial for a
    resource other than the activity is reported, but not as a missing grant."""
    arn = f"arn:aws:states:{REGION}:{ACCOUNT}:activity:browser-remote-prod"
    identity = CallerIdentity(ACCOUNT, f"arn:aws:sts::{ACCOUNT}:assumed-role/task-prod/s")
    clients = AwsClients(region=REGION)
    elsewhere = (
        f"User: {identity.arn} is not authorized to perform: states:SendTaskSuccess on "
        f"resource: arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:unknown because no "
        "identity-based policy allows the states:SendTaskSuccess action"
    )
    with Stubber(clients.stepfunctions()) as stub:
        stub.add_client_error("send_task_heartbeat", "InvalidToken", "Invalid token", 400)
        stub.add_client_error("send_task_success", "AccessDeniedException", elsewhere, 400)
        stub.add_client_error("send_task_failure", "AccessDeniedException", "denied", 400)
        heartbeat, success, failure = check_task_answers(clients, arn, identity)

    assert (heartbeat.ok, heartbeat.detail) == (True, "not denied (InvalidToken)")
    assert not success.ok and not success.required
    assert ":stateMachine:unknown, not on the activity" in success.detail
    assert f"allow states:SendTaskSuccess on {arn} in the policy of role task-prod" in success.fix
    assert not failure.ok and failure.required
    assert failure.detail == "denied (AccessDeniedException)"


def test_doctor_without_any_credentials_says_where_they_come_from(
    cli: Cli, home: Path, moto_iam: MotoIam
) -> None:
    doctor = cli("doctor", "--env", "dev", env=aws_env(home, moto_iam))
    assert doctor.returncode == 1
    assert "MISSING credentials: none found" in doctor.stdout
    assert "task role" in doctor.stdout and "AWS_PROFILE" in doctor.stdout


def test_setup_with_a_wrong_secret_fails_on_the_signature(
    cli: Cli, home: Path, moto_iam: MotoIam
) -> None:
    source = RoleCredentials(moto_iam, moto_iam.role("tampered", agent_policy("any")))
    source.tamper = lambda c: {**c, "SecretAccessKey": "x" + c["SecretAccessKey"][1:]}
    with container_endpoint(source, "t") as endpoint:
        line = one_error(cli("setup", "--env", "prod", env=aws_env(home, moto_iam, **endpoint)))
    assert "sts:GetCallerIdentity failed (SignatureDoesNotMatch)" in line


def test_environment_variable_keys_and_profile_files_keep_working(
    cli: Cli, home: Path, moto_iam: MotoIam
) -> None:
    stack = moto_iam.stack(f"keys{secrets.token_hex(2)}")
    key_id, secret = moto_iam.user_key(f"user-{stack.env}", agent_policy(stack.bucket))

    with_keys = aws_env(home, moto_iam, AWS_ACCESS_KEY_ID=key_id, AWS_SECRET_ACCESS_KEY=secret)
    setup = cli("setup", "--env", stack.env, env=with_keys)
    doctor = cli("doctor", env=with_keys)
    assert setup.returncode == 0, setup.stdout + setup.stderr
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "environment variables (AWS_ACCESS_KEY_ID)" in doctor.stdout
    assert f"user/user-{stack.env}" in doctor.stdout

    (home / ".aws" / "credentials").write_text(
        f"[laptop]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n"
    )
    (home / ".aws" / "config").write_text(f"[profile laptop]\nregion = {REGION}\n")
    plain = aws_env(home, moto_iam)
    setup = cli("setup", "--env", stack.env, "--aws-profile", "laptop", env=plain)
    doctor = cli("doctor", env=plain)  # the profile name is remembered in the settings file
    mounted = cli("doctor", env={**plain, "AWS_PROFILE": "laptop"})  # docker run -e AWS_PROFILE
    assert setup.returncode == 0, setup.stdout + setup.stderr
    assert tomllib.loads(settings_path(home).read_text())[stack.env]["aws_profile"] == "laptop"
    for result in (doctor, mounted):
        assert result.returncode == 0, result.stdout + result.stderr
        assert "the shared credentials file" in result.stdout
    no_secrets([setup.stdout, doctor.stdout, settings_path(home).read_text()], [secret])


def test_legacy_secret_becomes_a_named_profile_not_a_setting(
    cli: Cli, home: Path, moto_iam: MotoIam
) -> None:
    stack = moto_iam.stack(f"legacy{secrets.token_hex(2)}", parameters=False)
    key_id, secret = moto_iam.user_key(f"local-{stack.env}", agent_policy(stack.bucket))
    moto_iam.client("secretsmanager").create_secret(
        Name=f"browser-agent-credentials-{stack.env}",
        SecretString=json.dumps(
            {
                "AWS_ACCESS_KEY_ID": key_id,
                "AWS_SECRET_ACCESS_KEY": secret,
                "AWS_DEFAULT_REGION": REGION,
                "ACTIVITY_ARN": stack.activity_arn,
                "S3_BUCKET": stack.bucket,
            }
        ),
    )
    admin_id, admin_secret = moto_iam.admin_key
    credentials = home / ".aws" / "credentials"
    credentials.write_text(
        f"# my keys\n[admin]\naws_access_key_id = {admin_id}\n"
        f"aws_secret_access_key = {admin_secret}\n"
    )
    env = aws_env(home, moto_iam)
    setup = cli("setup", "--env", stack.env, "--aws-profile", "admin", "--legacy-secret", env=env)
    doctor = cli("doctor", env=env)

    assert setup.returncode == 0, setup.stdout + setup.stderr
    profile = f"browser-agent-{stack.env}"
    text = credentials.read_text()
    assert text.startswith(f"# my keys\n[admin]\naws_access_key_id = {admin_id}\n")
    assert f"[{profile}]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n" in text
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert f"[profile {profile}]\nregion = {REGION}" in (home / ".aws" / "config").read_text()
    written = tomllib.loads(settings_path(home).read_text())[stack.env]
    assert written["aws_profile"] == profile and written["activity_arn"] == stack.activity_arn
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert f"user/local-{stack.env}" in doctor.stdout
    no_secrets(
        [setup.stdout, setup.stderr, doctor.stdout, settings_path(home).read_text()],
        [secret, admin_secret],
    )


@pytest.mark.browser
def test_uploads_are_signed_with_the_task_role_and_a_denied_put_stays_in_the_spool(
    cli: Cli, home: Path, moto_iam: MotoIam
) -> None:
    stack = moto_iam.stack(f"up{secrets.token_hex(2)}")
    writer = RoleCredentials(
        moto_iam, moto_iam.role(f"task-{stack.env}", agent_policy(stack.bucket))
    )
    no_s3 = RoleCredentials(
        moto_iam, moto_iam.role(f"nos3-{stack.env}", agent_policy(stack.bucket, s3=False))
    )
    login = EXAMPLES_DIR / "login.json"
    runs: dict[str, tuple[CliResult, Path]] = {}
    for name, source in (("writer", writer), ("no_s3", no_s3)):
        with container_endpoint(source, secrets.token_hex(8)) as endpoint:
            env = aws_env(home, moto_iam, **endpoint)
            if name == "writer":
                assert cli("setup", "--env", stack.env, env=env).returncode == 0
            spool = cli.cwd / f"spool-{name}"
            result = cli(
                "run-script", login, "--demo-site", "--level", "INFO", "--out", spool, env=env
            )
            runs[name] = (result, spool)

    uploaded, spool = runs["writer"]
    recording = json.loads(uploaded.stdout)["recording"]
    assert recording["upload_status"] == "uploaded", uploaded.stderr
    keys = [
        o["Key"]
        for o in moto_iam.client("s3").list_objects_v2(
            Bucket=stack.bucket, Prefix=f"browser-sessions/{stack.env}/"
        )["Contents"]
    ]
    assert any(k.endswith("/manifest.json") for k in keys) and len(keys) >= 3
    assert not list(spool.rglob("manifest.json"))  # it left the spool once S3 confirmed it

    denied, spool = runs["no_s3"]
    assert json.loads(denied.stdout)["recording"]["upload_status"] == "pending"
    assert len(list(spool.rglob("manifest.json"))) == 1
    assert "AccessDenied" in denied.stderr and "stays in the spool" in denied.stderr
    texts = [r.stdout + r.stderr for r, _ in runs.values()]
    spooled = [p.read_text(errors="replace") for p in spool.rglob("*") if p.is_file()]
    no_secrets(texts + spooled, writer.secret_strings() + no_s3.secret_strings())
