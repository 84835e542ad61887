"""Logging set-up: one handler, with every secret masked before a line is written."""

from __future__ import annotations

import logging
import sys

from src.wire.redaction import RedactingFilter, Redactor


def configure_logging(level: str, redact: Redactor) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(redact))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
