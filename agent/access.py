"""What the agent's AWS identity may do: one real, harmless call per permission.

The agent's role has no read, list or delete permission, so every check is a call the agent
really makes: `sts:GetCallerIdentity` (needs no permission, proves the credentials),
`states:DescribeActivity`, a put of a small probe object that is overwritten each time, and
(for `doctor`) the three task answers sent with a token that is no task's.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from agent.aws import AwsClients, error_code
from agent.config import AgentSettings
from agent.errors import AwsAccessError
from agent.levels import RecordingLevel

DENIED_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "Forbidden"}
)
REJECTED_CREDENTIAL_CODES = frozenset(
    {
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidAccessKeyId",
        "InvalidToken",
        "UnrecognizedClientException",
    }
)
# Answers to this token cannot reach a task: Step Functions' tokens are long opaque strings it
# issued itself. Emulators that accept any token (moto) answer nothing with it.
PROBE_TASK_TOKEN = "browser-agent-doctor-probe:not-a-task-token"
# What Step Functions says about the token (or the probe's output) once IAM has let the call in.
TOKEN_REFUSALS = frozenset(
    {"InvalidToken", "TaskDoesNotExist", "TaskTimedOut", "InvalidOutput", "ValidationException"}
)
TASK_ANSWERS = ("states:SendTaskHeartbeat", "states:SendTaskSuccess", "states:SendTaskFailure")
PROBE_PREFIX = "browser-sessions/_probe"
DOCS = "docs/iam-and-setup.md"
NO_CREDENTIALS_FIX = (
    "no AWS credentials found: on ECS give the task a task role, on EC2 an instance profile; "
    "on a laptop mount ~/.aws and set AWS_PROFILE (or pass --aws-profile); see " + DOCS
)


@dataclass(frozen=True)
class CallerIdentity:
    account: str
    arn: str

    @property
    def principal(self) -> str:
        """`role NAME`, `user NAME` or the ARN: whose policy a fix goes into."""
        match = re.match(r"^arn:[^:]+:(?:sts|iam)::\d*:(assumed-role|role|user)/([^/]+)", self.arn)
        if not match:
            return self.arn
        kind = "user" if match.group(1) == "user" else "role"
        return f"{kind} {match.group(2)}"


@dataclass(frozen=True)
class AccessCheck:
    """One permission (or prerequisite), whether it holds, and what to do when it does not."""

    name: str
    target: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True


def caller_identity(clients: AwsClients) -> CallerIdentity:
    """Who the credentials belong to; a clear AwsAccessError when there are none or AWS
    rejects them."""
    try:
        answer = clients.sts().get_caller_identity()
    except NoCredentialsError:
        raise AwsAccessError(NO_CREDENTIALS_FIX) from None
    except NoRegionError:
        raise AwsAccessError(
            "no AWS region: pass --region, or set AWS_REGION or the profile's region"
        ) from None
    except ClientError as exc:
        code = error_code(exc)
        hint = (
            "the credentials were rejected: renew them (aws sso login, or new keys) or unset "
            "stale AWS_ACCESS_KEY_ID / AWS_SESSION_TOKEN variables"
            if code in REJECTED_CREDENTIAL_CODES
            else "check the credentials and AWS_ENDPOINT_URL"
        )
        raise AwsAccessError(f"sts:GetCallerIdentity failed ({code}): {hint}") from None
    except BotoCoreError as exc:
        raise AwsAccessError(f"could not reach AWS STS: {exc}") from None
    return CallerIdentity(account=str(answer["Account"]), arn=str(answer["Arn"]))


def permission_fix(permission: str, resource: str, identity: CallerIdentity | None) -> str:
    whose = identity.principal if identity else "the agent's role"
    return f"allow {permission} on {resource} in the policy of {whose} (see {DOCS})"


def check_call(
    permission: str,
    resource: str,
    call: Callable[[], Any],
    identity: CallerIdentity | None,
    *,
    fixes: dict[str, str] | None = None,
    required: bool = True,
) -> AccessCheck:
    """Make the call; a denial names the permission and says where to grant it."""
    try:
        call()
    except (ClientError, BotoCoreError) as exc:
        return failed_check(permission, resource, exc, identity, fixes=fixes, required=required)
    return AccessCheck(permission, resource, True, "allowed", "", required)


def failed_check(
    permission: str,
    resource: str,
    exc: ClientError | BotoCoreError,
    identity: CallerIdentity | None,
    *,
    fixes: dict[str, str] | None = None,
    refusals: frozenset[str] = frozenset(),
    required: bool = True,
) -> AccessCheck:
    """What a failed call says about the permission. An error in `refusals` is one AWS gives
    only to a call it let in: the permission is not denied."""
    if isinstance(exc, BotoCoreError):
        fix = "check the network, the region and AWS_ENDPOINT_URL"
        return AccessCheck(permission, resource, False, f"failed ({exc})", fix, required)
    code = error_code(exc)
    if code in DENIED_CODES:
        fix = permission_fix(permission, resource, identity)
        return AccessCheck(permission, resource, False, f"denied ({code})", fix, required)
    if code in refusals:
        return AccessCheck(permission, resource, True, f"not denied ({code})", "", required)
    fix = (fixes or {}).get(code, f"AWS answered {code}; see {DOCS}")
    return AccessCheck(permission, resource, False, f"failed ({code})", fix, required)


def denied_resource(exc: ClientError) -> str | None:
    """The resource a denial names ("… is not authorized to perform: A on resource: R …")."""
    message = str(exc.response.get("Error", {}).get("Message") or "")
    match = re.search(r"\bon resource: (\S+)", message)
    return match.group(1).rstrip(".,;") if match else None


def check_activity(
    clients: AwsClients, activity_arn: str, identity: CallerIdentity | None
) -> AccessCheck:
    return check_call(
        "states:DescribeActivity",
        activity_arn,
        lambda: clients.stepfunctions().describe_activity(activityArn=activity_arn),
        identity,
        fixes={
            "ActivityDoesNotExist": "no such activity: check activity_arn and the region, or "
            "run `browser-agent setup --env ENV` again",
            "InvalidArn": "activity_arn is not an activity ARN: run `browser-agent setup` again",
        },
    )


def check_task_answers(
    clients: AwsClients, activity_arn: str, identity: CallerIdentity | None
) -> list[AccessCheck]:
    """SendTaskHeartbeat, SendTaskSuccess and SendTaskFailure, each sent with PROBE_TASK_TOKEN.

    A denial means the permission is missing. A refused token means IAM let the call in, on an
    endpoint that checks IAM before it reads the token (moto does; AWS does not document the
    order, so there a refused token may prove less)."""
    states = clients.stepfunctions()
    token = PROBE_TASK_TOKEN
    cause = "browser-agent doctor: a permission probe, not an answer to any task"
    calls: dict[str, Callable[[], Any]] = {
        "states:SendTaskHeartbeat": lambda: states.send_task_heartbeat(taskToken=token),
        "states:SendTaskSuccess": lambda: states.send_task_success(taskToken=token, output="{}"),
        "states:SendTaskFailure": lambda: states.send_task_failure(
            taskToken=token, error="BrowserAgent.DoctorProbe", cause=cause
        ),
    }
    return [
        _task_answer_check(permission, calls[permission], activity_arn, identity)
        for permission in TASK_ANSWERS
    ]


def _task_answer_check(
    permission: str,
    call: Callable[[], Any],
    activity_arn: str,
    identity: CallerIdentity | None,
) -> AccessCheck:
    try:
        call()
    except ClientError as exc:
        checked_on = denied_resource(exc)
        if error_code(exc) in DENIED_CODES and checked_on not in (None, "*", activity_arn):
            # Denied for a resource that is not the activity: a grant scoped to the activity
            # (as documented) may still cover real tasks, so this cannot be called missing.
            return AccessCheck(
                permission,
                activity_arn,
                False,
                f"denied for the probe token on {checked_on}, not on the activity",
                "cannot tell whether real tasks are allowed: "
                + permission_fix(permission, activity_arn, identity),
                required=False,
            )
        return failed_check(permission, activity_arn, exc, identity, refusals=TOKEN_REFUSALS)
    except BotoCoreError as exc:
        return failed_check(permission, activity_arn, exc, identity)
    return AccessCheck(permission, activity_arn, True, "allowed")


def probe_key(agent_name: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", agent_name) or "agent"
    return f"{PROBE_PREFIX}/{safe}.json"


def check_probe_put(
    clients: AwsClients,
    bucket: str,
    agent_name: str,
    identity: CallerIdentity | None,
    *,
    encryption: dict[str, str] | None = None,
) -> list[AccessCheck]:
    """Put the probe object plain (s3:PutObject), then tagged as uploads are
    (s3:PutObjectTagging too). Same key each time: the role cannot delete it."""
    key = probe_key(agent_name)
    resource = f"arn:aws:s3:::{bucket}/browser-sessions/*"
    body = json.dumps(
        {"agent": agent_name, "identity": identity.arn if identity else None, "at": time.time()}
    ).encode()
    fixes = {"NoSuchBucket": f"bucket {bucket} does not exist: check s3_bucket and the region"}

    def put(**extra: Any) -> None:
        clients.s3().put_object(
            Bucket=bucket, Key=key, Body=body, ContentType="application/json", **extra
        )

    plain = check_call(
        "s3:PutObject", resource, lambda: put(**(encryption or {})), identity, fixes=fixes
    )
    if not plain.ok:
        return [plain]
    tagged = check_call(
        "s3:PutObjectTagging",
        resource,
        lambda: put(Tagging="recording-level=TRACE", **(encryption or {})),
        identity,
        fixes=fixes,
    )
    return [plain, tagged]


def agent_access_checks(
    clients: AwsClients,
    settings: AgentSettings,
    identity: CallerIdentity | None,
    *,
    task_answers: bool = False,
) -> list[AccessCheck]:
    """What `run` needs: its activity (with `task_answers`, also the three answers to its
    tasks), and (unless the level is NONE) puts under browser-sessions/ in its bucket."""
    checks: list[AccessCheck] = []
    if settings.activity_arn:
        checks.append(check_activity(clients, settings.activity_arn, identity))
        if task_answers:
            checks.extend(check_task_answers(clients, settings.activity_arn, identity))
    else:
        checks.append(
            AccessCheck(
                "setting activity_arn",
                "",
                False,
                "not set",
                "run `browser-agent setup --env ENV` (or set BROWSER_AGENT_ACTIVITY_ARN)",
            )
        )
    level = settings.level_for().level
    if level is RecordingLevel.NONE:
        checks.append(
            AccessCheck("s3:PutObject", "", True, "not needed: recording level NONE", "", False)
        )
    elif not settings.s3_bucket:
        checks.append(
            AccessCheck(
                "setting s3_bucket",
                "",
                True,
                "not set: recordings stay in the local folder (spool_dir)",
                "run `browser-agent setup --env ENV` to upload them to S3",
                False,
            )
        )
    else:
        encryption: dict[str, str] = {}
        if settings.s3.server_side_encryption:
            encryption["ServerSideEncryption"] = settings.s3.server_side_encryption
            if settings.s3.kms_key_id:
                encryption["SSEKMSKeyId"] = settings.s3.kms_key_id
        checks.extend(
            check_probe_put(
                clients, settings.s3_bucket, settings.agent_name, identity, encryption=encryption
            )
        )
    return checks
