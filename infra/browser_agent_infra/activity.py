"""The Step Functions activity the agents poll, and the SSM parameters that tell them about it.

`browser-agent setup --env ENV` (agent/discovery.py) reads, in one `ssm:GetParameters` call:

| parameter | value |
|---|---|
| `/browser-agent/{env}/activity-arn` | the activity's ARN (the region is taken from it) |
| `/browser-agent/{env}/s3-bucket` | the recordings bucket's name |
| `/browser-agent/{env}/recording-level` | the environment's recording level (optional) |
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_ssm as ssm
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from browser_agent_infra.props import AgentStackProps


class BrowserActivity(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, props: AgentStackProps) -> None:
        super().__init__(scope, construct_id)
        self.activity = sfn.Activity(self, "Activity", activity_name=props.activity)


class DiscoveryParameters(Construct):
    """The parameters, by their name under `/browser-agent/{env}/`."""

    NAMES = ("activity-arn", "s3-bucket", "recording-level")

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        props: AgentStackProps,
        activity_arn: str,
        bucket_name: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self._prefix = props.parameter_prefix
        values = {
            "activity-arn": (activity_arn, "The Step Functions activity browser-agent polls"),
            "s3-bucket": (bucket_name, "The bucket browser-agent uploads recordings to"),
            "recording-level": (props.recording_level, "The environment's recording level"),
        }
        self.parameters = {
            name: ssm.StringParameter(
                self,
                name.title().replace("-", ""),
                parameter_name=f"{props.parameter_prefix}/{name}",
                string_value=value,
                description=f"{description} ({props.env_name}); read by `browser-agent setup`",
            )
            for name, (value, description) in values.items()
        }

    def arns(self) -> list[str]:
        """The exact ARNs (the agent reads all three in one call, so it needs all three)."""
        stack = Stack.of(self)
        return [
            stack.format_arn(
                service="ssm",
                resource="parameter",
                # a parameter ARN is …:parameter/browser-agent/env/name (one slash)
                resource_name=f"{self._prefix.lstrip('/')}/{name}",
            )
            for name in self.parameters
        ]
