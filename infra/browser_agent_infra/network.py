"""Where the tasks run: an existing VPC (`vpc_id`), or a new one with public subnets only.

The agent needs outbound HTTPS only (Step Functions, S3, SSM, CloudWatch Logs, ECR, and the sites
its scripts visit) and accepts no inbound connection. A new VPC therefore has public subnets and
no NAT gateway (a NAT gateway costs more per month than a small Fargate task); each task gets a
public IP and a security group with no inbound rule. An existing VPC is used through its private
subnets with egress (NAT or VPC endpoints) instead.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from constructs import Construct

from browser_agent_infra.props import AgentStackProps


class AgentNetwork(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, props: AgentStackProps) -> None:
        super().__init__(scope, construct_id)
        self.public = not props.vpc_id
        if props.vpc_id:
            # A context lookup at synth: needs the stack's account and region (CDK_DEFAULT_*).
            self.vpc: ec2.IVpc = ec2.Vpc.from_lookup(self, "Vpc", vpc_id=props.vpc_id)
        else:
            flow_logs = logs.LogGroup(
                self,
                "FlowLogs",
                retention=props.log_retention,
                removal_policy=RemovalPolicy.DESTROY,
            )
            self.vpc = ec2.Vpc(
                self,
                "Vpc",
                max_azs=2,
                nat_gateways=0,
                subnet_configuration=[
                    ec2.SubnetConfiguration(
                        name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24
                    )
                ],
                flow_logs={
                    "All": ec2.FlowLogOptions(
                        destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
                        traffic_type=ec2.FlowLogTrafficType.ALL,
                    )
                },
            )
        self.subnets = ec2.SubnetSelection(
            subnet_type=ec2.SubnetType.PUBLIC if self.public else ec2.SubnetType.PRIVATE_WITH_EGRESS
        )
        self.security_group = ec2.SecurityGroup(
            self,
            "AgentSecurityGroup",
            vpc=self.vpc,
            description="browser-agent tasks: outbound only, no inbound rule",
            allow_all_outbound=True,
        )
