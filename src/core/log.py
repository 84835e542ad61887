"""Logging set-up: one handler, fed through a queue, with every secret masked before a line is written.

The event loop only puts a record on the queue; a thread formats, masks and writes it, so a log
line (one per request at `info`) never waits on the terminal or a slow pipe.
"""

from __future__ import annotations

import atexit
import logging
import queue
import sys
from logging.handlers import QueueHandler, QueueListener

from src.wire.redaction import RedactingFilter, Redactor


def configure_logging(level: str, redact: Redactor) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(redact))
    lines: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    listener = QueueListener(lines, handler, respect_handler_level=True)
    listener.start()
    atexit.register(listener.stop)  # what is queued is written before the process ends
    root = logging.getLogger()
    root.handlers[:] = [QueueHandler(lines)]
    root.setLevel(level.upper())
