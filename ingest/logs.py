"""Logging for every revops command, configured once.

Progress, warnings and errors go to stderr through the standard `logging` module: UTC
timestamps and levels in text mode, one JSON object per line with `REVOPS_LOG_FORMAT=json` (for
log shippers). Command results (the summary a command prints when it is done) stay on stdout.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import TextIO

_TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class _UtcFormatter(logging.Formatter):
    converter = time.gmtime

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", self.converter(record.created))
        return f"{stamp}.{int(record.msecs):03d}Z"


class JsonFormatter(_UtcFormatter):
    """One JSON object per record: ts, level, logger, message (and the exception, if any)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(
    level: str = "INFO", fmt: str = "text", stream: TextIO | None = None
) -> logging.Handler:
    """Send the root logger to `stream` (stderr) at `level`, replacing the handler an earlier
    call installed (and no other: a host such as a test runner may have its own)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else _UtcFormatter(_TEXT_FORMAT))
    handler.revops_handler = True  # type: ignore[attr-defined]
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "revops_handler", False):
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.captureWarnings(True)
    return handler
