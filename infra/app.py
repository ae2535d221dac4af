#!/usr/bin/env python3
"""The CDK entry point (cdk.json: `python app.py`): `cdk deploy -c env=prod`. See README.md."""

from aws_cdk import App
from browser_agent_infra import build_app, cdk_json_context

app = App(context=cdk_json_context())
build_app(app)
app.synth()
