"""The browser-agent CDK app: one stack per environment (dev, staging, prod)."""

from browser_agent_infra.build import add_stack, build_app, cdk_json_context
from browser_agent_infra.props import AgentStackProps, ContextError, ImageSource, props_from_context
from browser_agent_infra.stack import BrowserAgentStack, stack_name

__all__ = [
    "AgentStackProps",
    "BrowserAgentStack",
    "ContextError",
    "ImageSource",
    "add_stack",
    "build_app",
    "cdk_json_context",
    "props_from_context",
    "stack_name",
]
