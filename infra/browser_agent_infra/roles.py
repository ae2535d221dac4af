"""The agent's one policy, and the identities that carry it: the ECS task role and the EC2
instance role (with its instance profile and a launch template that requires IMDSv2).

The policy is all the agent needs and nothing more (docs/iam-and-setup.md):

- `states:GetActivityTask`, `states:DescribeActivity` on **its** activity only;
- `states:SendTaskSuccess`, `states:SendTaskFailure`, `states:SendTaskHeartbeat` on `*`:
  IAM defines no resource type for these three actions (the Service Authorization Reference
  lists none), so a statement naming the activity ARN would never match them and the worker
  could not answer. The task token, which only a `GetActivityTask` on the activity hands out,
  is what ties an answer to a task;
- `s3:PutObject`, `s3:PutObjectTagging` on `bucket/browser-sessions/*` (never read, list or
  delete), and none at all when the recording level is NONE;
- `kms:GenerateDataKey` and `kms:Decrypt` on the bucket's key, through S3 only, when the bucket
  is KMS-encrypted (`kms:Decrypt` because S3 reads the parts back to complete a multipart upload);
- `ssm:GetParameters` on its environment's three discovery parameters (`browser-agent setup`);
- with a Nova Act workflow definition configured, the six `nova-act:` actions an act step makes
  (workflow run, session, act, steps), on that definition and its runs only.

No managed policy: `sts:GetCallerIdentity`, the only thing the seed's `ReadOnlyAccess` was
there for, needs no permission.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Aws, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from browser_agent_infra.nag import acknowledge
from browser_agent_infra.props import AgentStackProps
from browser_agent_infra.storage import RECORDINGS_PREFIX

POLL_ACTIONS = ["states:GetActivityTask", "states:DescribeActivity"]
ANSWER_ACTIONS = ["states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"]
WRITE_ACTIONS = ["s3:PutObject", "s3:PutObjectTagging"]
KMS_ACTIONS = ["kms:GenerateDataKey", "kms:Decrypt"]
# What the nova-act SDK calls for each act step (Service Authorization Reference: each needs
# the workflow-definition and, except CreateWorkflowRun, the workflow-run resource).
NOVA_ACT_ACTIONS = [
    "nova-act:CreateWorkflowRun",
    "nova-act:CreateSession",
    "nova-act:CreateAct",
    "nova-act:InvokeActStep",
    "nova-act:UpdateAct",
    "nova-act:UpdateWorkflowRun",
]


@dataclass(frozen=True)
class NovaActWorkflow:
    """A Nova Act workflow definition in this account (it may be in another region)."""

    region: str
    name: str

    def arn(self) -> str:
        return (
            f"arn:{Aws.PARTITION}:nova-act:{self.region}:{Aws.ACCOUNT_ID}:"
            f"workflow-definition/{self.name}"
        )

    def runs_as_nag_sees_them(self) -> str:
        return (
            f"arn:<AWS::Partition>:nova-act:{self.region}:<AWS::AccountId>:"
            f"workflow-definition/{self.name}/workflow-run/*"
        )


@dataclass(frozen=True)
class AgentResources:
    """What the policy is scoped to. `bucket` is None when the agent keeps no recordings."""

    activity_arn: str
    parameter_arns: list[str]
    bucket: s3.IBucket | None = None
    key: kms.IKey | None = None
    nova_act: NovaActWorkflow | None = None


def agent_statements(resources: AgentResources, region: str) -> list[iam.PolicyStatement]:
    statements = [
        iam.PolicyStatement(
            sid="PollItsActivity", actions=POLL_ACTIONS, resources=[resources.activity_arn]
        ),
        iam.PolicyStatement(sid="AnswerItsTasks", actions=ANSWER_ACTIONS, resources=["*"]),
    ]
    if resources.bucket is not None:
        statements.append(
            iam.PolicyStatement(
                sid="WriteRecordings",
                actions=WRITE_ACTIONS,
                resources=[resources.bucket.arn_for_objects(f"{RECORDINGS_PREFIX}*")],
            )
        )
        if resources.key is not None:
            statements.append(
                iam.PolicyStatement(
                    sid="EncryptRecordings",
                    actions=KMS_ACTIONS,
                    resources=[resources.key.key_arn],
                    conditions={"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
                )
            )
    if resources.nova_act is not None:
        workflow = resources.nova_act.arn()
        statements.append(
            iam.PolicyStatement(
                sid="RunNovaActSteps",
                actions=NOVA_ACT_ACTIONS,
                resources=[workflow, f"{workflow}/workflow-run/*"],
            )
        )
    statements.append(
        iam.PolicyStatement(
            sid="DiscoverSettings",
            actions=["ssm:GetParameters"],
            resources=resources.parameter_arns,
        )
    )
    return statements


class AgentPolicy(Construct):
    """One inline policy document (AWS::IAM::Policy) shared by every identity of the agent."""

    def __init__(self, scope: Construct, construct_id: str, *, resources: AgentResources) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.policy = iam.Policy(
            self, "Policy", statements=agent_statements(resources, stack.region)
        )
        acknowledge(
            self.policy,
            "AwsSolutions-IAM5",
            "states:SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat have no resource type "
            "in IAM and accept only Resource '*'; the task token, handed out only by "
            "GetActivityTask on this environment's activity, scopes them.",
            applies_to=["Resource::*"],
        )
        if resources.bucket is not None:
            bucket = resources.bucket.node.default_child
            assert bucket is not None
            logical_id = stack.get_logical_id(bucket)  # type: ignore[arg-type]
            acknowledge(
                self.policy,
                "AwsSolutions-IAM5",
                "Recordings are written under keys the agent creates per session "
                "(browser-sessions/{env}/{date}/{session_id}/...); the wildcard is limited to "
                "that prefix, and only PutObject and PutObjectTagging are allowed on it.",
                applies_to=[f"Resource::<{logical_id}.Arn>/{RECORDINGS_PREFIX}*"],
            )

        if resources.nova_act is not None:
            acknowledge(
                self.policy,
                "AwsSolutions-IAM5",
                "Nova Act creates a workflow run (a new id) per script run with act steps; the "
                "wildcard covers only the runs of this one workflow definition.",
                applies_to=[f"Resource::{resources.nova_act.runs_as_nag_sees_them()}"],
            )

    def attach_to_roles(self, *roles: iam.IRole) -> None:
        for role in roles:
            self.policy.attach_to_role(role)

    def attach_to_user(self, user: iam.IUser) -> None:
        self.policy.attach_to_user(user)


class AgentRoles(Construct):
    """The ECS task role, and the EC2 instance role with its profile and launch template."""

    def __init__(
        self, scope: Construct, construct_id: str, *, props: AgentStackProps, policy: AgentPolicy
    ) -> None:
        super().__init__(scope, construct_id)
        env = props.env_name
        self.task_role = iam.Role(
            self,
            "TaskRole",
            role_name=f"browser-agent-task-{env}",
            description=f"browser-agent ECS tasks ({env}): its activity, its recordings prefix",
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
        )
        self.instance_role = iam.Role(
            self,
            "InstanceRole",
            role_name=f"browser-agent-instance-{env}",
            description=f"browser-agent on EC2 ({env}): the same policy as the ECS task role",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
        )
        policy.attach_to_roles(self.task_role, self.instance_role)
        self.instance_profile = iam.InstanceProfile(
            self,
            "InstanceProfile",
            instance_profile_name=f"browser-agent-{env}",
            role=self.instance_role,
        )
        # No image or instance type: pick them at launch (`aws ec2 run-instances
        # --launch-template LaunchTemplateName=browser-agent-ENV --image-id …`).
        # IMDSv2 only; hop limit 2 so a container on the instance reaches the role too.
        self.launch_template = ec2.LaunchTemplate(
            self,
            "LaunchTemplate",
            launch_template_name=f"browser-agent-{env}",
            instance_profile=self.instance_profile,
            require_imdsv2=True,
            http_put_response_hop_limit=2,
        )
