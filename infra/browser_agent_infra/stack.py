"""One environment of browser-agent: every construct of this package, wired together."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack, Tags
from constructs import Construct

from browser_agent_infra.activity import BrowserActivity, DiscoveryParameters
from browser_agent_infra.legacy_user import LegacyAgentUser
from browser_agent_infra.network import AgentNetwork
from browser_agent_infra.props import AgentStackProps
from browser_agent_infra.roles import AgentPolicy, AgentResources, AgentRoles, NovaActWorkflow
from browser_agent_infra.scaling import BacklogScaling
from browser_agent_infra.service import AgentService, agent_environment
from browser_agent_infra.state_machine import ExampleStateMachine
from browser_agent_infra.storage import RecordingsStorage


def stack_name(env_name: str) -> str:
    return f"BrowserAgent-{env_name}"


class BrowserAgentStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, props: AgentStackProps, **kwargs: Any
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            description=f"browser-agent ({props.env_name}): recordings bucket, activity, "
            "discovery parameters, ECS service scaled on the activity backlog, roles",
            **kwargs,
        )
        self.props = props
        Tags.of(self).add("application", "browser-agent")
        Tags.of(self).add("environment", props.env_name)

        self.storage = RecordingsStorage(self, "Storage", props=props)
        bucket = self.storage.bucket
        self.activity = BrowserActivity(self, "Activity", props=props).activity
        self.parameters = DiscoveryParameters(
            self,
            "Discovery",
            props=props,
            activity_arn=self.activity.activity_arn,
            bucket_name=bucket.bucket_name,
        )
        self.policy = AgentPolicy(
            self,
            "AgentPolicy",
            resources=AgentResources(
                activity_arn=self.activity.activity_arn,
                parameter_arns=self.parameters.arns(),
                bucket=bucket if props.records else None,
                key=self.storage.key if props.records else None,
                nova_act=NovaActWorkflow(props.nova_act_region, props.nova_act_workflow)
                if props.nova_act
                else None,
            ),
        )
        self.roles = AgentRoles(self, "Roles", props=props, policy=self.policy)
        self.network = AgentNetwork(self, "Network", props=props)
        key_arn = self.storage.key.key_arn if self.storage.key else None
        self.service = AgentService(
            self,
            "Service",
            props=props,
            network=self.network,
            task_role=self.roles.task_role,
            environment=agent_environment(
                props, self.activity.activity_arn, bucket.bucket_name, key_arn
            ),
        )
        self.scaling = BacklogScaling(
            self,
            "Scaling",
            props=props,
            cluster=self.service.cluster,
            service=self.service.service,
            activity=self.activity,
        )
        self.example = ExampleStateMachine(self, "Example", props=props, activity=self.activity)
        self.legacy_user: LegacyAgentUser | None = None
        if props.legacy_user:
            self.legacy_user = LegacyAgentUser(
                self,
                "LegacyUser",
                props=props,
                policy=self.policy,
                activity_arn=self.activity.activity_arn,
                bucket_name=bucket.bucket_name,
            )
        self._outputs()

    def _outputs(self) -> None:
        outputs = {
            "ActivityArn": self.activity.activity_arn,
            "RecordingsBucket": self.storage.bucket.bucket_name,
            "ClusterName": self.service.cluster.cluster_name,
            "ServiceName": self.service.service.service_name,
            "TaskRoleArn": self.roles.task_role.role_arn,
            "InstanceProfileName": self.roles.instance_profile.instance_profile_name,
            "ExampleStateMachineArn": self.example.state_machine.state_machine_arn,
            "SetupCommand": f"browser-agent setup --env {self.props.env_name}",
        }
        if self.legacy_user:
            outputs["LegacySecretName"] = self.legacy_user.secret.secret_name
        for name, value in outputs.items():
            CfnOutput(self, name, value=value)
