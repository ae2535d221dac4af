"""Building the app: the stack for the environment named in the context, and the nag checks."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from aws_cdk import App, Environment

from browser_agent_infra.nag import check_aws_solutions
from browser_agent_infra.props import AgentStackProps, props_from_context
from browser_agent_infra.stack import BrowserAgentStack, stack_name

CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"


def cdk_json_context() -> dict[str, Any]:
    """The "context" of infra/cdk.json (the feature flags the stack is written for). The CDK CLI
    passes it to the app by itself; `App(context=cdk_json_context())` gives it to an app built
    without the CLI (`python app.py`, the tests), and the CLI's values still win."""
    context: dict[str, Any] = json.loads(CDK_JSON.read_text())["context"]
    return context


def add_stack(app: App, props: AgentStackProps) -> BrowserAgentStack:
    """`BrowserAgent-{env}` in the CLI's account and region (CDK_DEFAULT_ACCOUNT and
    CDK_DEFAULT_REGION, from the AWS profile) when it gives them, else environment-agnostic."""
    account = os.environ.get("CDK_DEFAULT_ACCOUNT")
    region = os.environ.get("CDK_DEFAULT_REGION")
    environment = Environment(account=account, region=region) if account and region else None
    return BrowserAgentStack(app, stack_name(props.env_name), props=props, env=environment)


def build_app(app: App) -> BrowserAgentStack:
    """The stack for the environment in `app`'s context (`-c env=prod …`, cdk.json), checked by
    cdk-nag's AwsSolutions pack."""
    stack = add_stack(app, props_from_context(app.node.try_get_context))
    check_aws_solutions(app)
    return stack
