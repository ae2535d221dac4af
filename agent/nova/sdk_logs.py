"""The Nova Act SDK's standard-library logging, routed into the agent's loguru output.

Left alone, the SDK gives each of its loggers a handler on stderr, and its trace logger
prints every prompt and every action it takes (typed text included) there; while it waits
for the model it even swaps that logger's handler for one on stdout, which would corrupt the
result JSON that `run-script` prints. So:

- the trace logger (`nova_act.trace`) is disabled: it can carry the prompt and typed values;
  the adapter logs one line per act itself, and the whole trajectory is kept (scrubbed) at
  TRACE level;
- every other `nova_act` logger loses its own handlers and propagates to `nova_act`, whose
  one handler hands the record to loguru at DEBUG, scrubbed of every secret this process
  knows (`process_secrets`), like every other log line.

`route_sdk_logging` is idempotent and cheap; the adapter calls it before each act, since the
SDK may create loggers (with handlers) when it imports a module late.
"""

from __future__ import annotations

import logging

from loguru import logger

from agent.redaction import process_secrets

SDK_LOGGER = "nova_act"
TRACE_LOGGER = "nova_act.trace"


class _ToLoguru(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = process_secrets.redactor.redact(record.getMessage())
        except Exception:  # a record that cannot be formatted is dropped, never raised
            return
        logger.debug("nova_act: {}", " ".join(text.split()))


_HANDLER = _ToLoguru(level=logging.INFO)


def route_sdk_logging() -> None:
    root = logging.getLogger(SDK_LOGGER)
    root.handlers = [_HANDLER]
    root.propagate = False
    root.setLevel(logging.INFO)
    for name in list(logging.Logger.manager.loggerDict):
        if not name.startswith(SDK_LOGGER + "."):
            continue
        sdk_logger = logging.getLogger(name)
        if name == TRACE_LOGGER:
            sdk_logger.disabled = True
            continue
        sdk_logger.handlers = []
        sdk_logger.propagate = True
        sdk_logger.setLevel(logging.NOTSET)
