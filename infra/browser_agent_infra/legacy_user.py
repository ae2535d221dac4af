"""The seed's IAM user for machines outside AWS (opt-in: `-c legacy_user=true`).

A long-lived access key is exactly what the rest of the stack avoids, so this is off by default.
When on: the user `browser-agent-local-{env}` with the agent's policy (no `ReadOnlyAccess`), one
access key, and the secret `browser-agent-credentials-{env}` holding what
`browser-agent setup --env ENV --legacy-secret` reads (agent/legacy_credentials.py):
`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_DEFAULT_REGION`, `ACTIVITY_ARN`, `S3_BUCKET`.
"""

from __future__ import annotations

from aws_cdk import SecretValue, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from browser_agent_infra.nag import acknowledge
from browser_agent_infra.props import AgentStackProps
from browser_agent_infra.roles import AgentPolicy


class LegacyAgentUser(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        props: AgentStackProps,
        policy: AgentPolicy,
        activity_arn: str,
        bucket_name: str,
    ) -> None:
        super().__init__(scope, construct_id)
        env = props.env_name
        self.user = iam.User(self, "User", user_name=f"browser-agent-local-{env}")
        policy.attach_to_user(self.user)
        self.access_key = iam.CfnAccessKey(self, "AccessKey", user_name=self.user.user_name)
        self.secret = secretsmanager.Secret(
            self,
            "Credentials",
            secret_name=f"browser-agent-credentials-{env}",
            description=(
                f"browser-agent ({env}) IAM-user key for machines outside AWS; read by "
                f"`browser-agent setup --env {env} --legacy-secret`"
            ),
            secret_object_value={
                "AWS_ACCESS_KEY_ID": SecretValue.unsafe_plain_text(self.access_key.ref),
                "AWS_SECRET_ACCESS_KEY": SecretValue.resource_attribute(
                    self.access_key.attr_secret_access_key
                ),
                "AWS_DEFAULT_REGION": SecretValue.unsafe_plain_text(Stack.of(self).region),
                "ACTIVITY_ARN": SecretValue.unsafe_plain_text(activity_arn),
                "S3_BUCKET": SecretValue.unsafe_plain_text(bucket_name),
            },
        )
        acknowledge(
            self.secret,
            "AwsSolutions-SMG4",
            "The secret holds an IAM user's access key, which Secrets Manager cannot rotate by "
            "itself (it would need a rotation function that creates a new key and deletes the "
            "old). Rotate by replacing the access key (a new CfnAccessKey logical id) and "
            "running `browser-agent setup --legacy-secret` again; prefer roles, which need no key.",
        )
