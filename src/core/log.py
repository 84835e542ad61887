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


class _HandOff(QueueHandler):
    """Puts the record itself on the queue: formatting it (the time, the message) is the writer
    thread's work, not the event loop's. A record with a traceback is still formatted here, while
    the frames it names are as they were."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        return super().prepare(record) if record.exc_info else record


def configure_logging(level: str, redact: Redactor) -> None:
    # Nothing in the format needs them, and each costs every record a look-up on the event loop.
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(redact))
    lines: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    listener = QueueListener(lines, handler, respect_handler_level=True)
    listener.start()
    atexit.register(listener.stop)  # what is queued is written before the process ends
    root = logging.getLogger()
    root.handlers[:] = [_HandOff(lines)]
    root.setLevel(level.upper())
