"""Scaling the service on the activity's backlog, down to zero tasks.

Step Functions publishes, per activity (namespace AWS/States, dimension ActivityArn),
`ActivitiesScheduled` and `ActivitiesStarted` when tasks are scheduled and handed to a worker,
and nothing while the activity is idle. Two alarms drive the service's desired count:

- **scale out** when `FILL(scheduled, 0) - FILL(started, 0)` (tasks scheduled in a minute and not
  started in it) is 1 or more: +1 task, +3 from a backlog of 5, up to `max_tasks`. `FILL` matters:
  with no task running nothing is started, `ActivitiesStarted` has no data at all, and a plain
  `scheduled - started` would have no data either, so the service would never leave zero;
- **scale to zero** (to `min_tasks`, 0 by default) when nothing was scheduled or started for
  `idle_minutes` in a row (missing data counts as idle). `idle_minutes` is longer than the
  example state machine's `TimeoutSeconds`, so a running task is never stopped by scale-in;
  tasks stopped anyway (deployments) drain and fail with `BrowserAgent.WorkerShutdown`, which
  the state machine retries.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from browser_agent_infra.props import AgentStackProps

BACKLOG_EXPRESSION = "FILL(scheduled, 0) - FILL(started, 0)"
ACTIVITY_EXPRESSION = "FILL(scheduled, 0) + FILL(started, 0)"
PERIOD = Duration.minutes(1)


class BacklogScaling(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        props: AgentStackProps,
        cluster: ecs.ICluster,
        service: ecs.FargateService,
        activity: sfn.Activity,
    ) -> None:
        super().__init__(scope, construct_id)
        self.target = appscaling.ScalableTarget(
            self,
            "Target",
            service_namespace=appscaling.ServiceNamespace.ECS,
            resource_id=f"service/{cluster.cluster_name}/{service.service_name}",
            scalable_dimension="ecs:service:DesiredCount",
            min_capacity=props.min_tasks,
            max_capacity=props.max_tasks,
        )
        self.target.node.add_dependency(service)
        metrics = {
            "scheduled": activity.metric_scheduled(period=PERIOD, statistic="Sum"),
            "started": activity.metric_started(period=PERIOD, statistic="Sum"),
        }

        backlog = cloudwatch.MathExpression(
            expression=BACKLOG_EXPRESSION,
            using_metrics=metrics,
            period=PERIOD,
            label="activity backlog (ActivitiesScheduled - ActivitiesStarted)",
        )
        scale_out = appscaling.StepScalingAction(
            self,
            "ScaleOut",
            scaling_target=self.target,
            adjustment_type=appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
            metric_aggregation_type=appscaling.MetricAggregationType.MAXIMUM,
            cooldown=Duration.minutes(2),
        )
        # Bounds are relative to the alarm's threshold of 1: a backlog of 1-4 adds one task,
        # 5 or more adds three.
        scale_out.add_adjustment(adjustment=1, lower_bound=0, upper_bound=4)
        scale_out.add_adjustment(adjustment=3, lower_bound=4)
        self.backlog_alarm = cloudwatch.Alarm(
            self,
            "BacklogAlarm",
            alarm_description=f"browser-agent ({props.env_name}): tasks wait on the activity",
            metric=backlog,
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            datapoints_to_alarm=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.backlog_alarm.add_alarm_action(cloudwatch_actions.ApplicationScalingAction(scale_out))

        activity_count = cloudwatch.MathExpression(
            expression=ACTIVITY_EXPRESSION,
            using_metrics=metrics,
            period=PERIOD,
            label="activity tasks scheduled or started",
        )
        scale_in = appscaling.StepScalingAction(
            self,
            "ScaleToZero",
            scaling_target=self.target,
            adjustment_type=appscaling.AdjustmentType.EXACT_CAPACITY,
            metric_aggregation_type=appscaling.MetricAggregationType.MAXIMUM,
            cooldown=Duration.minutes(5),
        )
        # Exact capacity 0 is raised to the target's minimum (`min_tasks`).
        scale_in.add_adjustment(adjustment=0, upper_bound=0)
        self.idle_alarm = cloudwatch.Alarm(
            self,
            "IdleAlarm",
            alarm_description=(
                f"browser-agent ({props.env_name}): no activity task for "
                f"{props.idle_minutes} minutes"
            ),
            metric=activity_count,
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=props.idle_minutes,
            datapoints_to_alarm=props.idle_minutes,
            treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
        )
        self.idle_alarm.add_alarm_action(cloudwatch_actions.ApplicationScalingAction(scale_in))
