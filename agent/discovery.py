"""Finding the agent's activity, bucket and region from the SSM parameters the stack writes."""

from __future__ import annotations

import re
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from agent.access import DENIED_CODES, CallerIdentity, permission_fix
from agent.aws import AwsClients, error_code, region_from_arn
from agent.errors import AwsAccessError, ConfigurationError

# parameter name under /browser-agent/{env}/ -> the setting it fills
REQUIRED_PARAMETERS = {"activity-arn": "activity_arn", "s3-bucket": "s3_bucket"}
OPTIONAL_PARAMETERS = {"recording-level": "recording.level"}
ENV_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
_ACTIVITY_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:states:[a-z0-9-]+:\d{12}:activity:[^:]+$")


@dataclass(frozen=True)
class Discovered:
    """Setting name -> value, and the parameter each came from."""

    env: str
    region: str
    values: dict[str, str]
    parameters: dict[str, str]


def parameter_name(env: str, name: str) -> str:
    return f"/browser-agent/{env}/{name}"


def checked_env(env: str) -> str:
    if not ENV_NAME.match(env):
        raise ConfigurationError(
            f"--env {env!r}: expected a name of letters, digits, '-' or '_' (e.g. dev, prod)"
        )
    return env


def discover(clients: AwsClients, env: str, identity: CallerIdentity | None) -> Discovered:
    """Read /browser-agent/{env}/… in one ssm:GetParameters call."""
    region = clients.region_name or "?"
    wanted = {**REQUIRED_PARAMETERS, **OPTIONAL_PARAMETERS}
    names = {parameter_name(env, p): key for p, key in wanted.items()}
    try:
        answer = clients.ssm().get_parameters(Names=list(names))
    except ClientError as exc:
        code = error_code(exc)
        resource = f"arn:aws:ssm:{region}:{identity.account if identity else '*'}:parameter"
        resource += f"/browser-agent/{env}/*"
        if code in DENIED_CODES:
            raise AwsAccessError(
                f"reading the SSM parameters /browser-agent/{env}/* was denied ({code}): "
                f"{permission_fix('ssm:GetParameters', resource, identity)}; or set activity_arn "
                "and s3_bucket yourself (BROWSER_AGENT_ACTIVITY_ARN, BROWSER_AGENT_S3_BUCKET)"
            ) from None
        raise AwsAccessError(f"reading the SSM parameters failed ({code}): {exc}") from None
    except BotoCoreError as exc:
        raise AwsAccessError(f"could not reach AWS SSM in region {region}: {exc}") from None
    found = {names[p["Name"]]: str(p["Value"]) for p in answer.get("Parameters", [])}
    missing = [parameter_name(env, p) for p, key in REQUIRED_PARAMETERS.items() if key not in found]
    if missing:
        raise ConfigurationError(
            f"SSM parameter{'s' if len(missing) > 1 else ''} {', '.join(missing)} not found in "
            f"region {region}: deploy the infra stack for environment {env!r} (it writes them), "
            "or check --env and --region"
        )
    activity = found["activity_arn"]
    if not _ACTIVITY_ARN.match(activity):
        raise ConfigurationError(
            f"SSM parameter {parameter_name(env, 'activity-arn')} holds {activity!r}, which is "
            "not a Step Functions activity ARN: fix the parameter (redeploy the infra stack)"
        )
    found["aws_region"] = region_from_arn(activity) or region
    return Discovered(
        env=env,
        region=found["aws_region"],
        values=found,
        parameters={key: p for p, key in names.items() if key in found},
    )
