"""loguru set-up: JSON lines in a container, readable text on a terminal; secrets scrubbed."""

from __future__ import annotations

import json
import sys
import traceback
from typing import TYPE_CHECKING, Any, TextIO

from loguru import logger

from agent.redaction import process_secrets

if TYPE_CHECKING:
    from loguru import Message, Record

TEXT_FORMAT = (
    "<green>{time:HH:mm:ss.SSS}</green> <level>{level: <7}</level> "
    "{extra[ids]}<level>{message}</level>"
)


def _scrub(record: Record) -> None:
    redactor = process_secrets.redactor
    if redactor:
        record["message"] = redactor.redact(record["message"])
        record["extra"].update(redactor.redact_data(dict(record["extra"])))
    ids = " ".join(
        f"{k}={record['extra'][k]}" for k in ("task_id", "session_id") if record["extra"].get(k)
    )
    record["extra"]["ids"] = f"[{ids}] " if ids else ""


def _json_sink(stream: TextIO) -> Any:
    def write(message: Message) -> None:
        record = message.record
        line: dict[str, Any] = {
            "time": record["time"].isoformat(),
            "level": record["level"].name,
            "message": record["message"],
            "logger": record["name"],
        }
        line.update({k: v for k, v in record["extra"].items() if k != "ids" and v is not None})
        if record["exception"] is not None:
            trace = "".join(traceback.format_exception(*record["exception"]))
            line["exception"] = process_secrets.redactor.redact(trace)
        stream.write(json.dumps(line, default=str) + "\n")
        stream.flush()

    return write


def configure_logging(fmt: str = "auto", level: str = "INFO", stream: TextIO | None = None) -> None:
    """`fmt` is auto (JSON unless the stream is a terminal), json or text."""
    stream = stream or sys.stderr
    use_json = fmt == "json" or (fmt == "auto" and not stream.isatty())
    logger.remove()
    logger.configure(patcher=_scrub, extra={"ids": ""})
    if use_json:
        logger.add(_json_sink(stream), level=level, format="{message}")
    else:
        logger.add(stream, level=level, format=TEXT_FORMAT, colorize=stream.isatty())
