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


class _Batched(logging.StreamHandler):
    """Writes each line, but flushes only when the queue has run dry: one system call for a burst of
    lines instead of one a line, while a quiet proxy's lines still appear at once."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.stream.write(self.format(record) + self.terminator)
        except Exception:
            self.handleError(record)


class _Listener(QueueListener):
    def dequeue(self, block: bool) -> logging.LogRecord:
        if block and self.queue.empty():  # type: ignore[attr-defined]
            for handler in self.handlers:
                handler.flush()
        return super().dequeue(block)


def configure_logging(level: str, redact: Redactor) -> None:
    # Nothing in the format needs them, and each costs every record a look-up on the event loop.
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging._srcfile = None  # no caller's file and line: no walk up the frames for each record
    handler = _Batched(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(redact))
    lines: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    listener = _Listener(lines, handler, respect_handler_level=True)
    listener.start()
    atexit.register(listener.stop)  # what is queued is written (and flushed) before the process ends
    root = logging.getLogger()
    root.handlers[:] = [_HandOff(lines)]
    root.setLevel(level.upper())
