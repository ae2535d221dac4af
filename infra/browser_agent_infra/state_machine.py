"""An example state machine that hands one browser task to the agents through the activity.

It shows what a real workflow needs around an activity task (docs/worker.md):
`HeartbeatSeconds` (the worker heartbeats every 20 s), `TimeoutSeconds`, an immediate retry on
`BrowserAgent.WorkerShutdown` (a worker stopped by scale-in or a deployment; another one takes
the task) and `BrowserAgent.BrowserCrashed`, a retry with backoff on `States.HeartbeatTimeout`
(a worker that died without answering), and a `Catch` for input the agent rejects.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from browser_agent_infra.nag import acknowledge
from browser_agent_infra.props import AgentStackProps

RETRY_AT_ONCE = ["BrowserAgent.WorkerShutdown", "BrowserAgent.BrowserCrashed"]
RETRY_WITH_BACKOFF = ["States.HeartbeatTimeout"]


class ExampleStateMachine(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        props: AgentStackProps,
        activity: sfn.IActivity,
    ) -> None:
        super().__init__(scope, construct_id)
        name = f"browser-agent-example-{props.env_name}"
        browse = tasks.StepFunctionsInvokeActivity(
            self,
            "Browse",
            activity=activity,
            comment="One browser task: a script, a template reference or a tool envelope",
            heartbeat_timeout=sfn.Timeout.duration(Duration.seconds(props.heartbeat_seconds)),
            task_timeout=sfn.Timeout.duration(Duration.seconds(props.task_timeout_seconds)),
        )
        browse.add_retry(
            errors=RETRY_AT_ONCE,
            interval=Duration.seconds(1),
            max_attempts=3,
            backoff_rate=1.0,
        )
        browse.add_retry(
            errors=RETRY_WITH_BACKOFF,
            interval=Duration.seconds(5),
            max_attempts=2,
            backoff_rate=2.0,
        )
        rejected = sfn.Fail(self, "Rejected", error="Rejected", cause_path="$.error.Cause")
        browse.add_catch(rejected, errors=["BrowserAgent.InvalidInput"], result_path="$.error")

        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/vendedlogs/states/{name}",
            retention=props.log_retention,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=name,
            comment="One browser task on the browser-agent activity (an example to copy)",
            definition_body=sfn.DefinitionBody.from_chainable(browse),
            # Execution data stays out of the logs: task input may carry script variables.
            logs=sfn.LogOptions(
                destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=False
            ),
            tracing_enabled=True,
        )
        acknowledge(
            self.state_machine.role,
            "AwsSolutions-IAM5",
            "CloudWatch Logs log delivery (logs:CreateLogDelivery and related actions) and X-Ray "
            "(xray:PutTraceSegments and related actions) accept only Resource '*'; CDK adds "
            "exactly these for the state machine's logging and tracing.",
            applies_to=["Resource::*"],
        )
