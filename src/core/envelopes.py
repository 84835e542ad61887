"""Error envelopes: how a ProxyError looks to each protocol's clients. The only place they are built."""

from __future__ import annotations

import orjson

from src.core.errors import ProxyError


def openai_error(error: ProxyError, message: str) -> bytes:
    """`{"error": {"message", "type", "param", "code"}}`, as the OpenAI SDK parses it."""
    return orjson.dumps(
        {"error": {"message": message, "type": error.error_type, "param": error.param, "code": error.code}}
    )


def openai_stream_error(error: ProxyError, message: str) -> bytes:
    """An SSE event the OpenAI SDK raises on: a `data:` object with a truthy `error`."""
    body = {"message": message, "type": error.error_type, "param": error.param, "code": error.code or str(error.status)}
    return b"data: " + orjson.dumps({"error": body}) + b"\n\n"
