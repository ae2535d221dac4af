"""The ECS cluster and the Fargate service that runs `browser-agent run`.

The container: the image from a prop (an ECR repository and tag, any image URI, or the
repository's Dockerfile built at deploy time), the task role with the agent's policy, a read-only
root file system with two writable volumes (the upload spool and /tmp, where Chromium keeps its
profile), `browser-agent healthcheck` as its health check, and a 120 s stop timeout so a
SIGTERM'd worker can drain (docs/worker.md). Logs (JSON lines on stderr) and EMF metrics (stdout)
go to one log group with a retention.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from browser_agent_infra.nag import acknowledge
from browser_agent_infra.network import AgentNetwork
from browser_agent_infra.props import AgentStackProps, ImageSource

CONTAINER_NAME = "browser-agent"
SPOOL_DIR = "/var/lib/browser-agent/spool"
TMP_DIR = "/tmp"
HEALTH_CHECK = ["CMD", "browser-agent", "healthcheck"]
# Not sent to Docker when the image is built from the repository at deploy time.
ASSET_EXCLUDES = [
    ".git",
    ".venv",
    ".venv-localstack",
    "infra/cdk.out",
    "recordings",
    "**/__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
]


def container_image(scope: Construct, image: ImageSource) -> ecs.ContainerImage:
    if image.asset_directory:
        return ecs.ContainerImage.from_asset(
            str(Path(image.asset_directory).resolve()),
            exclude=ASSET_EXCLUDES,
            platform=ecr_assets.Platform.LINUX_AMD64,
        )
    if image.uri:
        return ecs.ContainerImage.from_registry(image.uri)
    repository = ecr.Repository.from_repository_name(scope, "ImageRepository", image.repository)
    return ecs.ContainerImage.from_ecr_repository(repository, image.tag)


def agent_environment(
    props: AgentStackProps, activity_arn: str, bucket_name: str, key_arn: str | None
) -> dict[str, str]:
    """The worker's settings (spec section 6 names; dynaconf's `__` for nested keys)."""
    environment = {
        "BROWSER_AGENT_ENV": props.env_name,
        "BROWSER_AGENT_ACTIVITY_ARN": activity_arn,
        "BROWSER_AGENT_RECORDING__LEVEL": props.recording_level,
        "BROWSER_AGENT_SPOOL_DIR": SPOOL_DIR,
        "BROWSER_AGENT_WORKER__CONCURRENCY": str(props.worker_concurrency),
        "BROWSER_AGENT_WORKER__DRAIN_SECONDS": str(props.drain_seconds),
        "BROWSER_AGENT_WORKER__HEALTH_FILE": f"{TMP_DIR}/browser-agent.health",
        "BROWSER_AGENT_LOG__FORMAT": "json",
    }
    if props.records:
        environment["BROWSER_AGENT_S3_BUCKET"] = bucket_name
        if key_arn:
            environment["BROWSER_AGENT_S3__SERVER_SIDE_ENCRYPTION"] = "aws:kms"
            environment["BROWSER_AGENT_S3__KMS_KEY_ID"] = key_arn
    else:
        # The role has no S3 permission: no script or task input may ask for a recording.
        environment["RECORDING_LEVEL_OVERRIDE"] = "NONE"
    if props.nova_act:
        environment["BROWSER_AGENT_NOVA_ACT__ENABLED"] = "true"
        environment["BROWSER_AGENT_NOVA_ACT__AUTH"] = "iam"
        environment["BROWSER_AGENT_NOVA_ACT__WORKFLOW_DEFINITION_NAME"] = props.nova_act_workflow
        environment["BROWSER_AGENT_NOVA_ACT__REGION"] = props.nova_act_region
    return environment


class AgentService(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        props: AgentStackProps,
        network: AgentNetwork,
        task_role: iam.IRole,
        environment: dict[str, str],
    ) -> None:
        super().__init__(scope, construct_id)
        env = props.env_name
        self.cluster = ecs.Cluster(
            self,
            "Cluster",
            cluster_name=f"browser-agent-{env}",
            vpc=network.vpc,
            container_insights_v2=ecs.ContainerInsights.ENABLED,
        )
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/browser-agent/{env}/worker",
            retention=props.log_retention,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.task_definition = ecs.FargateTaskDefinition(
            self,
            "TaskDefinition",
            family=f"browser-agent-{env}",
            cpu=props.cpu,
            memory_limit_mib=props.memory_mib,
            task_role=task_role,
            runtime_platform=ecs.RuntimePlatform(
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
                cpu_architecture=ecs.CpuArchitecture.X86_64,
            ),
        )
        # Fargate task storage (bind mounts without a host path); the Dockerfile declares both
        # paths as VOLUMEs owned by the agent's user, so ECS copies that ownership in.
        for volume in ("spool", "tmp"):
            self.task_definition.add_volume(name=volume)
        self.container = self.task_definition.add_container(
            "Agent",
            container_name=CONTAINER_NAME,
            image=container_image(self, props.image),
            essential=True,
            environment=environment,
            logging=ecs.LogDrivers.aws_logs(
                stream_prefix="worker",
                log_group=self.log_group,
                mode=ecs.AwsLogDriverMode.NON_BLOCKING,
            ),
            stop_timeout=Duration.seconds(props.stop_timeout_seconds),
            health_check=ecs.HealthCheck(
                command=HEALTH_CHECK,
                interval=Duration.seconds(30),
                timeout=Duration.seconds(5),
                retries=3,
                start_period=Duration.seconds(60),
            ),
            readonly_root_filesystem=True,
        )
        self.container.add_mount_points(
            ecs.MountPoint(container_path=SPOOL_DIR, source_volume="spool", read_only=False),
            ecs.MountPoint(container_path=TMP_DIR, source_volume="tmp", read_only=False),
        )
        acknowledge(
            self.task_definition,
            "AwsSolutions-ECS2",
            "The environment variables are the worker's non-secret settings (environment name, "
            "activity ARN, bucket name, recording level, spool path). Secrets reach a task only "
            "as Secrets Manager references in its input, resolved by the worker at run time.",
        )
        execution_role = self.task_definition.obtain_execution_role()
        acknowledge(
            execution_role,
            "AwsSolutions-IAM5",
            "ecr:GetAuthorizationToken, which ECS needs to pull the image from ECR, has no "
            "resource type in IAM and accepts only Resource '*'; the pull itself is limited to "
            "the image's repository.",
            applies_to=["Resource::*"],
        )

        self.service = ecs.FargateService(
            self,
            "Service",
            service_name=f"browser-agent-{env}",
            cluster=self.cluster,
            task_definition=self.task_definition,
            vpc_subnets=network.subnets,
            assign_public_ip=network.public,
            security_groups=[network.security_group],
            # Start new tasks before stopping old ones; the old ones drain on SIGTERM.
            min_healthy_percent=100,
            max_healthy_percent=200,
            circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True),
            platform_version=ecs.FargatePlatformVersion.LATEST,
        )
