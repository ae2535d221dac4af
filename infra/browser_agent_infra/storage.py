"""The recordings bucket: private, encrypted, TLS only, owner-enforced, expiring.

Key layout (spec section 5): `browser-sessions/{env}/{YYYY}/{MM}/{DD}/{session_id}/…`; every
object carries the tag `recording-level=<LEVEL>`, so TRACE recordings (video, traces, HAR) can
expire sooner than the rest. Server access logs go to a second bucket.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from browser_agent_infra.props import AgentStackProps

RECORDINGS_PREFIX = "browser-sessions/"
LEVEL_TAG = "recording-level"


class RecordingsStorage(Construct):
    """`bucket`, its access-log bucket, and `key` when the bucket is KMS-encrypted."""

    def __init__(self, scope: Construct, construct_id: str, *, props: AgentStackProps) -> None:
        super().__init__(scope, construct_id)
        self.key: kms.Key | None = None
        if props.kms:
            self.key = kms.Key(
                self,
                "Key",
                alias=f"alias/browser-agent-recordings-{props.env_name}",
                description=f"browser-agent recordings ({props.env_name})",
                enable_key_rotation=True,
                removal_policy=RemovalPolicy.RETAIN,
            )

        # The server access log target. cdk-nag's S1 does not ask a log target to log itself.
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            # S3 server access logging can only deliver to an SSE-S3 bucket.
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireAccessLogs",
                    expiration=Duration.days(props.access_log_expiry_days),
                    abort_incomplete_multipart_upload_after=Duration.days(
                        props.abort_multipart_days
                    ),
                )
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.bucket = s3.Bucket(
            self,
            "Recordings",
            bucket_name=props.bucket_name
            or f"browser-agent-recordings-{props.env_name}-{Stack.of(self).account}",
            encryption=s3.BucketEncryption.KMS if self.key else s3.BucketEncryption.S3_MANAGED,
            encryption_key=self.key,
            bucket_key_enabled=True if self.key else None,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="recordings/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireTraceRecordings",
                    tag_filters={LEVEL_TAG: "TRACE"},
                    expiration=Duration.days(props.trace_expiry_days),
                ),
                s3.LifecycleRule(
                    id="ExpireRecordings",
                    expiration=Duration.days(props.expiry_days),
                    abort_incomplete_multipart_upload_after=Duration.days(
                        props.abort_multipart_days
                    ),
                ),
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
