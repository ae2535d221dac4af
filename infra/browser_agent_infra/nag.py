"""cdk-nag: the AwsSolutions checks, and acknowledgements that always carry their reason.

Every acknowledgement is made next to the resource it concerns (grep for `acknowledge(`), and
docs/deployment.md lists them all.
"""

from __future__ import annotations

from aws_cdk import Aspects
from cdk_nag import AwsSolutionsChecks, NagPackSuppression, NagSuppressions
from constructs import IConstruct


def check_aws_solutions(scope: IConstruct, *, log_acknowledged: bool = False) -> None:
    """Run the AwsSolutions pack over everything under `scope` during the synth: a finding that
    is not acknowledged is an error annotation, and `cdk synth` / `cdk deploy` stop on it
    (cdk.json's @aws-cdk/core:annotationsInValidationReport). With `log_acknowledged`, each
    acknowledged finding is an info annotation with its reason (the tests read them)."""
    Aspects.of(scope).add(AwsSolutionsChecks(verbose=True, log_ignores=log_acknowledged))


def acknowledge(
    construct: IConstruct, rule: str, reason: str, *, applies_to: list[str] | None = None
) -> None:
    """Acknowledge one AwsSolutions finding on `construct` and its children, with its reason."""
    if len(reason) < 20:
        raise ValueError(f"acknowledging {rule}: give a real reason, not {reason!r}")
    suppression = NagPackSuppression(id=rule, reason=reason, applies_to=applies_to)
    NagSuppressions.add_resource_suppressions(construct, [suppression], apply_to_children=True)
