"""The CDK app in infra/, synthesised for real (aws-cdk-lib on the machine's Node.js, with
cdk-nag's AwsSolutions checks), and asserted on the CloudFormation it produces.

One synth per session: three environments in one app, each a variant that matters:
prod with the defaults (S3-managed encryption, level INFO), staging at level NONE, and dev
with a KMS key, the opt-in legacy IAM user and a Nova Act workflow definition. Intrinsics are
rendered to text (`${Logical.Arn}`) so policies can be compared whole.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# Before the first aws_cdk import: that starts the jsii kernel (Node.js 20 prints an
# end-of-life banner otherwise).
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
INFRA = Path(__file__).resolve().parents[1] / "infra"
sys.path.insert(0, str(INFRA))
if shutil.which("node") is None:
    raise RuntimeError(
        "tests/test_infra.py: aws-cdk-lib needs Node.js >= 18 on PATH (apt-get install nodejs)"
    )

from aws_cdk import App, CfnElement  # noqa: E402
from aws_cdk.assertions import Annotations, Match, Template  # noqa: E402
from browser_agent_infra import (  # noqa: E402
    BrowserAgentStack,
    ContextError,
    add_stack,
    cdk_json_context,
    props_from_context,
)
from browser_agent_infra.nag import check_aws_solutions  # noqa: E402
from browser_agent_infra.props import props_from_mapping  # noqa: E402

from agent.discovery import OPTIONAL_PARAMETERS, REQUIRED_PARAMETERS, parameter_name  # noqa: E402
from agent.legacy_credentials import SECRET_KEYS  # noqa: E402

VARIANTS = {
    "prod": {"env": "prod"},
    "staging": {"env": "staging", "recording_level": "none"},
    # strings, as `cdk deploy -c kms=true …` gives them
    "dev": {
        "env": "dev",
        "kms": "true",
        "legacy_user": "true",
        "trace_expiry_days": "3",
        "min_tasks": "1",
        "max_tasks": "2",
        "nova_act_workflow": "browser-agent-dev",
    },
}
FORBIDDEN_S3 = {"s3:GetObject", "s3:ListBucket", "s3:DeleteObject", "s3:*", "*"}


@dataclass
class Synth:
    stack: BrowserAgentStack
    template: Template
    resources: dict[str, Any]

    def logical_id(self, construct: Any) -> str:
        element = construct if isinstance(construct, CfnElement) else construct.node.default_child
        return str(self.stack.get_logical_id(element))

    def ref(self, construct: Any) -> str:
        return "${" + self.logical_id(construct) + "}"

    def arn(self, construct: Any) -> str:
        return "${" + self.logical_id(construct) + ".Arn}"

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: v["Properties"] for k, v in self.resources.items() if v["Type"] == kind}

    def one(self, kind: str) -> dict[str, Any]:
        found = list(self.of_type(kind).values())
        assert len(found) == 1, f"expected one {kind}, found {len(found)}"
        return found[0]

    def policies_of(self, role_or_user: Any) -> list[dict[str, Any]]:
        ref = {"Ref": self.logical_id(role_or_user)}
        return [
            p
            for p in self.of_type("AWS::IAM::Policy").values()
            if ref in p.get("Roles", []) + p.get("Users", [])
        ]

    def container(self) -> dict[str, Any]:
        task = self.one("AWS::ECS::TaskDefinition")
        (container,) = task["ContainerDefinitions"]
        return dict(container)

    def environment(self) -> dict[str, str]:
        return {e["Name"]: text(e["Value"]) for e in self.container()["Environment"]}


def text(value: Any) -> str:
    """A CloudFormation value as text: Ref -> ${Id}, GetAtt -> ${Id.Attr}, Join -> joined."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return str(value)
    if "Ref" in value:
        return "${" + value["Ref"] + "}"
    if "Fn::GetAtt" in value:
        return "${" + ".".join(value["Fn::GetAtt"]) + "}"
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(text(part) for part in parts)
    raise AssertionError(f"cannot render {value!r}")


def statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    """Policy statements with every resource and condition rendered as text."""

    def render(value: Any) -> Any:
        if isinstance(value, list):
            return [render(v) for v in value]
        if isinstance(value, dict) and not ({"Ref", "Fn::GetAtt", "Fn::Join"} & value.keys()):
            return {k: render(v) for k, v in value.items()}
        return text(value)

    return [render(s) for s in policy["PolicyDocument"]["Statement"]]


def actions_of(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


@pytest.fixture(scope="session")
def synths(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Synth]:
    context = {
        **cdk_json_context(),
        # Report nag findings as annotations (asserted below) instead of failing the synth,
        # which is what cdk.json makes `cdk synth` and `cdk deploy` do.
        "@aws-cdk/core:annotationsInValidationReport": False,
    }
    app = App(context=context, outdir=str(tmp_path_factory.mktemp("cdk.out")))
    stacks = {name: add_stack(app, props_from_mapping(values)) for name, values in VARIANTS.items()}
    check_aws_solutions(app, log_acknowledged=True)
    result = {}
    for name, stack in stacks.items():
        template = Template.from_stack(stack)
        result[name] = Synth(stack, template, template.to_json()["Resources"])
    return result


@pytest.fixture(scope="session")
def prod(synths: dict[str, Synth]) -> Synth:
    return synths["prod"]


@pytest.fixture(scope="session")
def staging_none(synths: dict[str, Synth]) -> Synth:
    return synths["staging"]


@pytest.fixture(scope="session")
def dev_kms_legacy(synths: dict[str, Synth]) -> Synth:
    return synths["dev"]


# --- the agent's permissions -------------------------------------------------------------


def expected_parameter_arns(env: str) -> list[str]:
    names = [*REQUIRED_PARAMETERS, *OPTIONAL_PARAMETERS]
    return sorted(
        f"arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter"
        f"{parameter_name(env, name)}"
        for name in names
    )


def test_task_role_policy_is_exactly_its_activity_its_prefix_and_its_parameters(
    prod: Synth,
) -> None:
    stack = prod.stack
    (policy,) = prod.policies_of(stack.roles.task_role)
    found = statements(policy)
    for statement in found:
        if statement["Sid"] == "DiscoverSettings":
            statement["Resource"] = sorted(statement["Resource"])
    assert found == [
        {
            "Sid": "PollItsActivity",
            "Effect": "Allow",
            "Action": ["states:DescribeActivity", "states:GetActivityTask"],
            "Resource": prod.ref(stack.activity),
        },
        {
            "Sid": "AnswerItsTasks",
            "Effect": "Allow",
            "Action": [
                "states:SendTaskFailure",
                "states:SendTaskHeartbeat",
                "states:SendTaskSuccess",
            ],
            "Resource": "*",
        },
        {
            "Sid": "WriteRecordings",
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:PutObjectTagging"],
            "Resource": prod.arn(stack.storage.bucket) + "/browser-sessions/*",
        },
        {
            "Sid": "DiscoverSettings",
            "Effect": "Allow",
            "Action": "ssm:GetParameters",
            "Resource": expected_parameter_arns("prod"),
        },
    ]


def test_instance_role_carries_the_same_single_policy_as_the_task_role(prod: Synth) -> None:
    roles = prod.stack.roles
    (task_policy,) = prod.policies_of(roles.task_role)
    (instance_policy,) = prod.policies_of(roles.instance_role)
    assert task_policy is instance_policy
    assert task_policy["Roles"] == [
        {"Ref": prod.logical_id(roles.task_role)},
        {"Ref": prod.logical_id(roles.instance_role)},
    ]
    assert "Users" not in task_policy


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_no_agent_identity_can_read_list_or_delete_or_has_a_managed_policy(
    synths: dict[str, Synth], variant: str
) -> None:
    synth = synths[variant]
    identities = [synth.stack.roles.task_role, synth.stack.roles.instance_role]
    if synth.stack.legacy_user:
        identities.append(synth.stack.legacy_user.user)
    for identity in identities:
        properties = synth.resources[synth.logical_id(identity)]["Properties"]
        assert "ManagedPolicyArns" not in properties
        assert "Policies" not in properties
        for policy in synth.policies_of(identity):
            for statement in statements(policy):
                assert not FORBIDDEN_S3 & set(actions_of(statement)), statement
                assert statement["Effect"] == "Allow"
    assert "ReadOnlyAccess" not in json.dumps(synth.resources)


def test_level_none_gets_no_s3_permission_and_cannot_be_asked_to_record(
    staging_none: Synth,
) -> None:
    stack = staging_none.stack
    (policy,) = staging_none.policies_of(stack.roles.task_role)
    found = statements(policy)
    assert [s["Sid"] for s in found] == ["PollItsActivity", "AnswerItsTasks", "DiscoverSettings"]
    assert not any(a.startswith(("s3:", "kms:")) for s in found for a in actions_of(s))
    environment = staging_none.environment()
    assert "BROWSER_AGENT_S3_BUCKET" not in environment
    assert environment["BROWSER_AGENT_RECORDING__LEVEL"] == "NONE"
    assert environment["RECORDING_LEVEL_OVERRIDE"] == "NONE"
    # the bucket and its parameter stay: setup needs them, and laptops with their own role
    parameters = {
        p["Name"]: text(p["Value"]) for p in staging_none.of_type("AWS::SSM::Parameter").values()
    }
    assert parameters["/browser-agent/staging/s3-bucket"] == staging_none.ref(stack.storage.bucket)
    assert parameters["/browser-agent/staging/recording-level"] == "NONE"


def test_nova_act_is_granted_on_its_workflow_definition_only_when_configured(
    prod: Synth, dev_kms_legacy: Synth
) -> None:
    (policy,) = dev_kms_legacy.policies_of(dev_kms_legacy.stack.roles.task_role)
    (nova,) = [s for s in statements(policy) if s["Sid"] == "RunNovaActSteps"]
    workflow = "arn:${AWS::Partition}:nova-act:us-east-1:${AWS::AccountId}:workflow-definition/"
    assert nova["Resource"] == [
        workflow + "browser-agent-dev",
        workflow + "browser-agent-dev/workflow-run/*",
    ]
    assert sorted(actions_of(nova)) == [
        "nova-act:CreateAct",
        "nova-act:CreateSession",
        "nova-act:CreateWorkflowRun",
        "nova-act:InvokeActStep",
        "nova-act:UpdateAct",
        "nova-act:UpdateWorkflowRun",
    ]
    environment = dev_kms_legacy.environment()
    assert environment["BROWSER_AGENT_NOVA_ACT__ENABLED"] == "true"
    assert environment["BROWSER_AGENT_NOVA_ACT__AUTH"] == "iam"
    assert environment["BROWSER_AGENT_NOVA_ACT__WORKFLOW_DEFINITION_NAME"] == "browser-agent-dev"
    assert environment["BROWSER_AGENT_NOVA_ACT__REGION"] == "us-east-1"
    (prod_policy,) = prod.policies_of(prod.stack.roles.task_role)
    assert not any(
        a.startswith("nova-act:") for s in statements(prod_policy) for a in actions_of(s)
    )
    assert not any(name.startswith("BROWSER_AGENT_NOVA_ACT") for name in prod.environment())


def test_kms_bucket_grants_its_key_through_s3_only(dev_kms_legacy: Synth) -> None:
    synth = dev_kms_legacy
    stack = synth.stack
    assert stack.storage.key is not None
    key_arn = synth.arn(stack.storage.key)
    (policy,) = synth.policies_of(stack.roles.task_role)
    by_sid = {s["Sid"]: s for s in statements(policy)}
    assert list(by_sid) == [
        "PollItsActivity",
        "AnswerItsTasks",
        "WriteRecordings",
        "EncryptRecordings",
        "RunNovaActSteps",  # this variant also names a Nova Act workflow definition
        "DiscoverSettings",
    ]
    assert by_sid["EncryptRecordings"] == {
        "Sid": "EncryptRecordings",
        "Effect": "Allow",
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": key_arn,
        "Condition": {"StringEquals": {"kms:ViaService": "s3.${AWS::Region}.amazonaws.com"}},
    }
    bucket = synth.resources[synth.logical_id(stack.storage.bucket)]["Properties"]
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["BucketKeyEnabled"] is True
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert text(rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"]) == key_arn
    assert synth.one("AWS::KMS::Key")["EnableKeyRotation"] is True
    environment = synth.environment()
    assert environment["BROWSER_AGENT_S3__SERVER_SIDE_ENCRYPTION"] == "aws:kms"
    assert environment["BROWSER_AGENT_S3__KMS_KEY_ID"] == key_arn


# --- the recordings bucket -----------------------------------------------------------------


def test_recordings_bucket_is_private_sse_s3_owner_enforced_and_logged(prod: Synth) -> None:
    storage = prod.stack.storage
    bucket = prod.resources[prod.logical_id(storage.bucket)]["Properties"]
    assert text(bucket["BucketName"]) == "browser-agent-recordings-prod-${AWS::AccountId}"
    assert bucket["BucketEncryption"] == {
        "ServerSideEncryptionConfiguration": [
            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
        ]
    }
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert bucket["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert bucket["LoggingConfiguration"] == {
        "DestinationBucketName": {"Ref": prod.logical_id(storage.access_logs)},
        "LogFilePrefix": "recordings/",
    }
    assert prod.resources[prod.logical_id(storage.bucket)]["DeletionPolicy"] == "Retain"


def test_recordings_bucket_refuses_requests_without_tls(prod: Synth) -> None:
    bucket_id = prod.logical_id(prod.stack.storage.bucket)
    (policy,) = [
        p
        for p in prod.of_type("AWS::S3::BucketPolicy").values()
        if p["Bucket"] == {"Ref": bucket_id}
    ]
    (deny,) = [s for s in statements(policy) if s["Effect"] == "Deny"]
    assert deny["Action"] == "s3:*"
    assert deny["Principal"] == {"AWS": "*"}
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert sorted(deny["Resource"]) == [f"${{{bucket_id}.Arn}}", f"${{{bucket_id}.Arn}}/*"]


def test_lifecycle_expires_trace_recordings_sooner_by_their_tag(
    prod: Synth, dev_kms_legacy: Synth
) -> None:
    for synth, trace_days in ((prod, 7), (dev_kms_legacy, 3)):
        bucket = synth.resources[synth.logical_id(synth.stack.storage.bucket)]["Properties"]
        assert bucket["LifecycleConfiguration"]["Rules"] == [
            {
                "Id": "ExpireTraceRecordings",
                "Status": "Enabled",
                "TagFilters": [{"Key": "recording-level", "Value": "TRACE"}],
                "ExpirationInDays": trace_days,
            },
            {
                "Id": "ExpireRecordings",
                "Status": "Enabled",
                "ExpirationInDays": 90,
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 3},
            },
        ]


def test_access_log_bucket_is_private_and_expires(prod: Synth) -> None:
    logs = prod.resources[prod.logical_id(prod.stack.storage.access_logs)]["Properties"]
    assert logs["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    ]
    assert logs["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True
    assert logs["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    (rule,) = logs["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == 365


# --- activity and discovery ----------------------------------------------------------------


def test_discovery_parameters_are_the_ones_setup_reads_and_name_the_activity_and_bucket(
    prod: Synth,
) -> None:
    stack = prod.stack
    parameters = {
        p["Name"]: (p["Type"], text(p["Value"]))
        for p in prod.of_type("AWS::SSM::Parameter").values()
    }
    assert parameters == {
        parameter_name("prod", "activity-arn"): ("String", prod.ref(stack.activity)),
        parameter_name("prod", "s3-bucket"): ("String", prod.ref(stack.storage.bucket)),
        parameter_name("prod", "recording-level"): ("String", "INFO"),
    }
    assert set(REQUIRED_PARAMETERS) | set(OPTIONAL_PARAMETERS) == {
        name.rsplit("/", 1)[1] for name in parameters
    }
    assert prod.one("AWS::StepFunctions::Activity")["Name"] == "browser-agent-prod"


# --- the ECS service -----------------------------------------------------------------------


def test_container_runs_the_agent_read_only_with_its_settings_and_a_120s_stop(prod: Synth) -> None:
    stack = prod.stack
    container = prod.container()
    assert container["StopTimeout"] == 120
    assert container["HealthCheck"]["Command"] == ["CMD", "browser-agent", "healthcheck"]
    assert container["ReadonlyRootFilesystem"] is True
    assert container["MountPoints"] == [
        {
            "ContainerPath": "/var/lib/browser-agent/spool",
            "ReadOnly": False,
            "SourceVolume": "spool",
        },
        {"ContainerPath": "/tmp", "ReadOnly": False, "SourceVolume": "tmp"},
    ]
    assert prod.one("AWS::ECS::TaskDefinition")["Volumes"] == [{"Name": "spool"}, {"Name": "tmp"}]
    environment = prod.environment()
    assert environment == {
        "BROWSER_AGENT_ENV": "prod",
        "BROWSER_AGENT_ACTIVITY_ARN": prod.ref(stack.activity),
        "BROWSER_AGENT_S3_BUCKET": prod.ref(stack.storage.bucket),
        "BROWSER_AGENT_RECORDING__LEVEL": "INFO",
        "BROWSER_AGENT_SPOOL_DIR": "/var/lib/browser-agent/spool",
        "BROWSER_AGENT_WORKER__CONCURRENCY": "1",
        "BROWSER_AGENT_WORKER__DRAIN_SECONDS": "100",
        "BROWSER_AGENT_WORKER__HEALTH_FILE": "/tmp/browser-agent.health",
        "BROWSER_AGENT_LOG__FORMAT": "json",
    }
    # docs/worker.md: drain + 15 s (stop overdue tasks, flush the spool) must fit the stop timeout
    assert int(environment["BROWSER_AGENT_WORKER__DRAIN_SECONDS"]) + 15 < container["StopTimeout"]
    assert text(container["Image"]) == (
        "${AWS::AccountId}.dkr.ecr.${AWS::Region}.${AWS::URLSuffix}/browser-agent:latest"
    )
    task = prod.one("AWS::ECS::TaskDefinition")
    assert text(task["TaskRoleArn"]) == prod.arn(stack.roles.task_role)
    assert (task["Cpu"], task["Memory"]) == ("1024", "2048")


def test_logs_go_to_a_log_group_with_retention(prod: Synth) -> None:
    service = prod.stack.service
    options = prod.container()["LogConfiguration"]
    assert options["LogDriver"] == "awslogs"
    assert options["Options"]["awslogs-group"] == {"Ref": prod.logical_id(service.log_group)}
    group = prod.resources[prod.logical_id(service.log_group)]["Properties"]
    assert (group["LogGroupName"], group["RetentionInDays"]) == ("/browser-agent/prod/worker", 30)


def test_service_starts_new_tasks_before_stopping_old_and_rolls_back(prod: Synth) -> None:
    service = prod.one("AWS::ECS::Service")
    assert service["DeploymentConfiguration"] == {
        "DeploymentCircuitBreaker": {"Enable": True, "Rollback": True},
        "MaximumPercent": 200,
        "MinimumHealthyPercent": 100,
    }
    assert "DesiredCount" not in service  # autoscaling owns it; a deploy must not reset it
    assert service["NetworkConfiguration"]["AwsvpcConfiguration"]["AssignPublicIp"] == "ENABLED"
    assert prod.one("AWS::EC2::VPC")
    assert not prod.of_type("AWS::EC2::NatGateway")
    groups = prod.of_type("AWS::EC2::SecurityGroup")
    assert all("SecurityGroupIngress" not in g for g in groups.values())


def test_service_scales_from_zero_on_the_activity_backlog(prod: Synth) -> None:
    stack = prod.stack
    target = prod.one("AWS::ApplicationAutoScaling::ScalableTarget")
    assert (target["MinCapacity"], target["MaxCapacity"]) == (0, 4)
    assert target["ScalableDimension"] == "ecs:service:DesiredCount"
    alarm = prod.resources[prod.logical_id(stack.scaling.backlog_alarm)]["Properties"]
    expression, *metrics = alarm["Metrics"]
    assert expression["Expression"] == "FILL(scheduled, 0) - FILL(started, 0)"
    assert expression["ReturnData"] is True
    activity = {"Ref": prod.logical_id(stack.activity)}
    assert {m["Id"]: m["MetricStat"] for m in metrics} == {
        name: {
            "Metric": {
                "Dimensions": [{"Name": "ActivityArn", "Value": activity}],
                "MetricName": metric,
                "Namespace": "AWS/States",
            },
            "Period": 60,
            "Stat": "Sum",
        }
        for name, metric in (("scheduled", "ActivitiesScheduled"), ("started", "ActivitiesStarted"))
    }
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert (alarm["Threshold"], alarm["EvaluationPeriods"]) == (1, 1)
    (action,) = alarm["AlarmActions"]
    policy = prod.resources[action["Ref"]]["Properties"]
    assert policy["StepScalingPolicyConfiguration"]["AdjustmentType"] == "ChangeInCapacity"
    assert policy["StepScalingPolicyConfiguration"]["StepAdjustments"] == [
        {"MetricIntervalLowerBound": 0, "MetricIntervalUpperBound": 4, "ScalingAdjustment": 1},
        {"MetricIntervalLowerBound": 4, "ScalingAdjustment": 3},
    ]


def test_service_scales_to_zero_only_after_idle_minutes_longer_than_a_task(prod: Synth) -> None:
    alarm = prod.resources[prod.logical_id(prod.stack.scaling.idle_alarm)]["Properties"]
    assert alarm["Metrics"][0]["Expression"] == "FILL(scheduled, 0) + FILL(started, 0)"
    assert alarm["ComparisonOperator"] == "LessThanOrEqualToThreshold"
    assert (alarm["Threshold"], alarm["EvaluationPeriods"], alarm["TreatMissingData"]) == (
        0,
        20,
        "breaching",
    )
    assert alarm["EvaluationPeriods"] * 60 > prod.stack.props.task_timeout_seconds
    (action,) = alarm["AlarmActions"]
    policy = prod.resources[action["Ref"]]["Properties"]["StepScalingPolicyConfiguration"]
    assert policy["AdjustmentType"] == "ExactCapacity"
    assert policy["StepAdjustments"] == [{"MetricIntervalUpperBound": 0, "ScalingAdjustment": 0}]


def test_min_and_max_tasks_bound_the_scaling(dev_kms_legacy: Synth) -> None:
    target = dev_kms_legacy.one("AWS::ApplicationAutoScaling::ScalableTarget")
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 2)


def test_cluster_has_container_insights(prod: Synth) -> None:
    cluster = prod.one("AWS::ECS::Cluster")
    assert cluster["ClusterName"] == "browser-agent-prod"
    assert cluster["ClusterSettings"] == [{"Name": "containerInsights", "Value": "enabled"}]


# --- EC2 variant, example state machine, legacy user -------------------------------------


def test_ec2_instance_role_profile_and_imdsv2_launch_template(prod: Synth) -> None:
    roles = prod.stack.roles
    role = prod.resources[prod.logical_id(roles.instance_role)]["Properties"]
    assert role["RoleName"] == "browser-agent-instance-prod"
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "ec2.amazonaws.com"}
    profile = prod.one("AWS::IAM::InstanceProfile")
    assert profile["Roles"] == [{"Ref": prod.logical_id(roles.instance_role)}]
    assert profile["InstanceProfileName"] == "browser-agent-prod"
    template = prod.one("AWS::EC2::LaunchTemplate")["LaunchTemplateData"]
    assert template["MetadataOptions"] == {"HttpPutResponseHopLimit": 2, "HttpTokens": "required"}
    assert (
        text(template["IamInstanceProfile"]["Arn"])
        == "${" + prod.logical_id(roles.instance_profile) + ".Arn}"
    )


def example_definition(synth: Synth) -> dict[str, Any]:
    machine = synth.one("AWS::StepFunctions::StateMachine")
    return dict(json.loads(text(machine["DefinitionString"])))


def test_example_state_machine_heartbeats_times_out_and_retries_shutdowns(prod: Synth) -> None:
    definition = example_definition(prod)
    browse = definition["States"][definition["StartAt"]]
    assert browse["Type"] == "Task"
    assert browse["Resource"] == prod.ref(prod.stack.activity)
    assert (browse["HeartbeatSeconds"], browse["TimeoutSeconds"]) == (60, 900)
    retried = {error: retry for retry in browse["Retry"] for error in retry["ErrorEquals"]}
    assert retried["BrowserAgent.WorkerShutdown"]["IntervalSeconds"] == 1
    assert retried["States.HeartbeatTimeout"]["MaxAttempts"] == 2
    assert browse["Catch"][0]["ErrorEquals"] == ["BrowserAgent.InvalidInput"]
    machine = prod.one("AWS::StepFunctions::StateMachine")
    assert machine["LoggingConfiguration"]["Level"] == "ALL"
    assert machine["LoggingConfiguration"]["IncludeExecutionData"] is False
    assert machine["TracingConfiguration"] == {"Enabled": True}


def test_legacy_user_exists_only_when_enabled(
    prod: Synth, staging_none: Synth, dev_kms_legacy: Synth
) -> None:
    for synth in (prod, staging_none):
        assert synth.stack.legacy_user is None
        for kind in ("AWS::IAM::User", "AWS::IAM::AccessKey", "AWS::SecretsManager::Secret"):
            assert not synth.of_type(kind), kind
    synth = dev_kms_legacy
    legacy = synth.stack.legacy_user
    assert legacy is not None
    assert synth.one("AWS::IAM::User")["UserName"] == "browser-agent-local-dev"
    assert "ManagedPolicyArns" not in synth.one("AWS::IAM::User")
    (policy,) = synth.policies_of(legacy.user)
    assert policy in synth.policies_of(synth.stack.roles.task_role)
    secret = synth.one("AWS::SecretsManager::Secret")
    assert secret["Name"] == "browser-agent-credentials-dev"
    value = json.loads(text(secret["SecretString"]))
    key = synth.logical_id(legacy.access_key)
    assert value == {
        "AWS_ACCESS_KEY_ID": "${" + key + "}",
        "AWS_SECRET_ACCESS_KEY": "${" + key + ".SecretAccessKey}",
        "AWS_DEFAULT_REGION": "${AWS::Region}",
        "ACTIVITY_ARN": synth.ref(synth.stack.activity),
        "S3_BUCKET": synth.ref(synth.stack.storage.bucket),
    }
    assert set(SECRET_KEYS) <= set(value)  # what agent/legacy_credentials.py requires


# --- cdk-nag -------------------------------------------------------------------------------

ACKNOWLEDGED = {
    ("AgentPolicy/Policy/Resource", "AwsSolutions-IAM5[Resource::*]"),
    (
        "AgentPolicy/Policy/Resource",
        "AwsSolutions-IAM5[Resource::<{bucket}.Arn>/browser-sessions/*]",
    ),
    ("Service/TaskDefinition/Resource", "AwsSolutions-ECS2"),
    (
        "Service/TaskDefinition/ExecutionRole/DefaultPolicy/Resource",
        "AwsSolutions-IAM5[Resource::*]",
    ),
    ("Example/StateMachine/Role/DefaultPolicy/Resource", "AwsSolutions-IAM5[Resource::*]"),
}
SUPPRESSED = re.compile(
    r"CdkNagSuppression(?P<applies>\[[^\]]*\])?: (?P<rule>\S+) was triggered but suppressed\. "
    r'Provided reason: "(?P<reason>.*)"$',
    re.DOTALL,
)
ACKNOWLEDGED_LEGACY = {("LegacyUser/Credentials/Resource", "AwsSolutions-SMG4")}
ACKNOWLEDGED_NOVA_ACT = {
    (
        "AgentPolicy/Policy/Resource",
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:nova-act:us-east-1:<AWS::AccountId>:"
        "workflow-definition/browser-agent-dev/workflow-run/*]",
    )
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_cdk_nag_aws_solutions_has_no_unacknowledged_finding(
    synths: dict[str, Synth], variant: str
) -> None:
    annotations = Annotations.from_stack(synths[variant].stack)
    findings = [
        f"{m.id}: {m.entry.data}"
        for m in annotations.find_error("*", Match.any_value())
        + annotations.find_warning("*", Match.any_value())
    ]
    assert findings == []


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_acknowledged_nag_finding_is_the_expected_one_with_its_reason(
    synths: dict[str, Synth], variant: str
) -> None:
    synth = synths[variant]
    stack = synth.stack
    bucket = synth.logical_id(stack.storage.bucket)
    found = set()
    for message in Annotations.from_stack(stack).find_info("*", Match.any_value()):
        data = str(message.entry.data)
        if "was triggered but suppressed" not in data:
            continue
        match = SUPPRESSED.match(data)
        assert match, data
        assert len(match["reason"]) > 60, data  # a sentence, not a placeholder
        path = message.id.removeprefix(f"/{stack.stack_name}/")
        found.add((path, match["rule"] + (match["applies"] or "")))
    expected = {(path, rule.format(bucket=bucket)) for path, rule in ACKNOWLEDGED}
    if not stack.props.records:
        expected.remove(
            (
                "AgentPolicy/Policy/Resource",
                f"AwsSolutions-IAM5[Resource::<{bucket}.Arn>/browser-sessions/*]",
            )
        )
    if stack.props.legacy_user:
        expected |= ACKNOWLEDGED_LEGACY
    if stack.props.nova_act:
        expected |= ACKNOWLEDGED_NOVA_ACT
    assert found == expected


# --- context ------------------------------------------------------------------------------


def test_context_strings_become_typed_props_with_per_environment_levels() -> None:
    props = props_from_context(
        {"env": "staging", "max_tasks": "8", "kms": "yes", "image_uri": "r/agent:1.2"}.get
    )
    assert (props.env_name, props.recording_level, props.max_tasks, props.kms) == (
        "staging",
        "DEBUG",
        8,
        True,
    )
    assert props.image.uri == "r/agent:1.2"
    assert props_from_mapping({}).env_name == "dev"
    assert props_from_mapping({}).recording_level == "TRACE"
    assert props_from_mapping({"env": "prod"}).recording_level == "INFO"


@pytest.mark.parametrize(
    ("context", "key"),
    [
        ({"env": "qa"}, "'env'"),
        ({"recording_level": "VERBOSE"}, "'recording_level'"),
        ({"trace_expiry_days": "90"}, "'trace_expiry_days'"),
        ({"log_retention_days": "10"}, "'log_retention_days'"),
        ({"memory_mib": "1024"}, "'memory_mib'"),
        ({"max_tasks": "many"}, "'max_tasks'"),
        ({"kms": "perhaps"}, "'kms'"),
        ({"idle_minutes": "10"}, "'idle_minutes'"),
        ({"min_tasks": "5"}, "'min_tasks'"),
        ({"nova_act_workflow": "has spaces"}, "'nova_act_workflow'"),
    ],
)
def test_a_bad_context_value_stops_the_synth_naming_its_key(
    context: dict[str, str], key: str
) -> None:
    with pytest.raises(ContextError, match=key):
        props_from_mapping(context)


def test_cdk_app_entry_point_synthesises_with_cdk_json(tmp_path: Path) -> None:
    """What `cdk synth -c env=prod -c image_uri=…` runs: app.py with the CLI's context."""
    assert json.loads((INFRA / "cdk.json").read_text())["app"] == "python3 app.py"
    environment = {
        **os.environ,
        "CDK_OUTDIR": str(tmp_path),
        "CDK_CONTEXT_JSON": json.dumps(
            {**cdk_json_context(), "env": "prod", "image_uri": "registry.example/agent:1.0"}
        ),
    }
    environment.pop("CDK_DEFAULT_ACCOUNT", None)
    subprocess.run([sys.executable, "app.py"], cwd=INFRA, env=environment, check=True, timeout=240)
    template = json.loads((tmp_path / "BrowserAgent-prod.template.json").read_text())
    (task,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::ECS::TaskDefinition"]
    assert task["Properties"]["ContainerDefinitions"][0]["Image"] == "registry.example/agent:1.0"
    (report,) = tmp_path.glob("AwsSolutions-*BrowserAgent-prod-NagReport.csv")
    with report.open() as rows:
        checks = list(csv.DictReader(rows))
    assert len(checks) > 20  # the AwsSolutions pack ran over the stack
    assert {row["Compliance"] for row in checks} == {"Compliant", "Suppressed"}
    assert all(
        len(row["Exception Reason"]) > 60 for row in checks if row["Compliance"] == "Suppressed"
    )
