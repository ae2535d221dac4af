"""`browser-agent doctor`: who the agent is, where each setting came from, what it may not do."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from agent.access import (
    NO_CREDENTIALS_FIX,
    AccessCheck,
    CallerIdentity,
    agent_access_checks,
    caller_identity,
    check_call,
)
from agent.aws import AwsClients, region_from_arn
from agent.config import AgentSettings, describe_settings
from agent.discovery import parameter_name
from agent.errors import AwsAccessError

# Permissions doctor cannot check without side effects, and why.
NOT_CHECKED = {
    "states:GetActivityTask": "a call could take a real task from the activity, which would "
    "then wait out its HeartbeatSeconds unanswered; grant it on the activity with "
    "states:DescribeActivity",
}
TASK_ANSWER_NOTE = (
    "states:SendTask* are sent with a made-up task token that answers no task: a denial means "
    "the permission is missing; a refused token (InvalidToken) proves the grant only where IAM "
    "is checked before the token"
)


@dataclass
class DoctorReport:
    identity: CallerIdentity | None
    credential_source: str | None
    region: str | None
    region_source: str
    settings: dict[str, Any]
    checks: list[AccessCheck]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks if c.required)

    @property
    def missing(self) -> list[AccessCheck]:
        return [c for c in self.checks if not c.ok]

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "identity": asdict(self.identity) if self.identity else None,
            "credentials": self.credential_source,
            "region": {"value": self.region, "source": self.region_source},
            "settings": self.settings,
            "checks": [asdict(c) for c in self.checks],
            "not_checked": [{"name": k, "why": why} for k, why in NOT_CHECKED.items()],
            "notes": [TASK_ANSWER_NOTE],
        }


def diagnose(settings: AgentSettings, clients: AwsClients) -> DoctorReport:
    region, region_source = _region(settings, clients)
    source = clients.credential_source()
    checks: list[AccessCheck] = []
    identity: CallerIdentity | None = None
    if source is None:
        checks.append(AccessCheck("credentials", "", False, "none found", NO_CREDENTIALS_FIX))
    else:
        try:
            identity = caller_identity(clients)
            checks.append(AccessCheck("sts:GetCallerIdentity", identity.arn, True, "allowed"))
        except AwsAccessError as exc:
            checks.append(AccessCheck("sts:GetCallerIdentity", "", False, "failed", exc.message))
    if identity is not None:
        checks.extend(agent_access_checks(clients, settings, identity, task_answers=True))
        checks.append(_discovery_check(clients, settings, identity))
    described = describe_settings(settings, settings.level_for())
    return DoctorReport(identity, source, region, region_source, described, checks)


def _region(settings: AgentSettings, clients: AwsClients) -> tuple[str | None, str]:
    if settings.aws_region:
        return settings.aws_region, f"setting aws_region ({settings.sources.get('aws_region')})"
    if region_from_arn(settings.activity_arn):
        return region_from_arn(settings.activity_arn), "the activity ARN"
    if clients.region_name:
        return clients.region_name, "the AWS config (AWS_REGION or the profile)"
    return None, "not set"


def _discovery_check(
    clients: AwsClients, settings: AgentSettings, identity: CallerIdentity
) -> AccessCheck:
    """ssm:GetParameters is needed by `setup` only, so it is reported but not required."""
    names = [parameter_name(settings.env, p) for p in ("activity-arn", "s3-bucket")]
    resource = f"arn:aws:ssm:*:{identity.account}:parameter/browser-agent/{settings.env}/*"
    return check_call(
        "ssm:GetParameters",
        resource,
        lambda: clients.ssm().get_parameters(Names=names),
        identity,
        required=False,
    )


def render(report: DoctorReport) -> list[str]:
    lines = []
    who = report.identity
    lines.append(
        f"identity     {who.arn} (account {who.account})" if who else "identity     unknown"
    )
    lines.append(f"credentials  {report.credential_source or 'none found'}")
    where = f" ({report.region_source})" if report.region else ""
    lines.append(f"region       {report.region or 'not set'}{where}")
    lines.append("\nsettings")
    for key, entry in report.settings["settings"].items():
        lines.append(f"  {key:<24} {entry['value']!s:<44} ({entry['source']})")
    level = report.settings["recording_level"]
    lines.append(f"  recording level: {level['level']} (set by {level['source']})")
    lines.append("\nchecks")
    for check in report.checks:
        mark = "ok     " if check.ok else ("MISSING" if check.required else "warning")
        target = f" on {check.target}" if check.target and not check.ok else ""
        lines.append(f"  {mark} {check.name}{target}: {check.detail}")
        if check.fix and (not check.ok or not check.required):
            lines.append(f"          fix: {check.fix}")
    for name, why in NOT_CHECKED.items():
        lines.append(f"  not checked {name}: {why}")
    lines.append(f"\nnote: {TASK_ANSWER_NOTE}.")
    missing = [c.name for c in report.missing if c.required]
    lines.append(
        "\nall required checks passed"
        if report.ok
        else f"\nmissing: {', '.join(missing)} (fixes above)"
    )
    return lines
