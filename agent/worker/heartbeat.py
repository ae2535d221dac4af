"""SendTaskHeartbeat on an interval while a task runs; notices when the token is gone."""

from __future__ import annotations

import asyncio
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from loguru import logger

from agent.aws import error_code
from agent.worker.answers import GONE_TOKEN_ERRORS


async def send_heartbeats(states: Any, token: str, interval_s: float, lost: asyncio.Event) -> None:
    """Heartbeat every `interval_s` until cancelled; set `lost` and stop when Step Functions
    says the token is no longer valid (TaskTimedOut, InvalidToken)."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await asyncio.to_thread(states.send_task_heartbeat, taskToken=token)
        except ClientError as exc:
            code = error_code(exc)
            if code in GONE_TOKEN_ERRORS:
                logger.warning("heartbeat refused with {}: stopping this task's browser work", code)
                lost.set()
                return
            logger.warning("heartbeat failed (will retry): {}", exc)
        except BotoCoreError as exc:
            logger.warning("heartbeat failed (will retry): {}", exc)
