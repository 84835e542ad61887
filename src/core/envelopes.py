"""Error envelopes: how a ProxyError looks to each protocol's clients. The only place they are built."""

from __future__ import annotations

import orjson

from src.core.errors import ProxyError


_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "payment_required",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "request_too_large",
    422: "invalid_request_error",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def openai_type(error: ProxyError) -> str:
    """The error's own type, else the conventional one for its status."""
    if error.error_type:
        return error.error_type
    return _OPENAI_TYPES.get(error.status, "api_error" if error.status >= 500 else "invalid_request_error")


def openai_error(error: ProxyError, message: str) -> bytes:
    """`{"error": {"message", "type", "param", "code"}}`, as the OpenAI SDK parses it."""
    body = {"message": message, "type": openai_type(error), "param": error.param, "code": error.code}
    return orjson.dumps({"error": body})


def openai_stream_error(error: ProxyError, message: str) -> bytes:
    """An SSE event the OpenAI SDK raises on: a `data:` object with a truthy `error`."""
    code = error.code or str(error.status)
    body = {"message": message, "type": openai_type(error), "param": error.param, "code": code}
    return b"data: " + orjson.dumps({"error": body}) + b"\n\n"


_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


# An Anthropic error event names a type, not a status: the same table, read the other way.
ANTHROPIC_STATUSES = {kind: status for status, kind in _ANTHROPIC_TYPES.items()} | {"api_error": 500, "timeout_error": 504}


def anthropic_type(error: ProxyError) -> str:
    """Anthropic's type for the status: the SDK picks its exception class by status, users read the type."""
    return anthropic_type_for(error.status)


def anthropic_type_for(status: int) -> str:
    return _ANTHROPIC_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")


def anthropic_error(error: ProxyError, message: str) -> bytes:
    """`{"type": "error", "error": {"type", "message"}}`, as the Anthropic SDK parses it."""
    return orjson.dumps({"type": "error", "error": {"type": anthropic_type(error), "message": message}})


def anthropic_stream_error(error: ProxyError, message: str) -> bytes:
    """The `error` event that ends an Anthropic stream; the SDK raises on it."""
    return b"event: error\ndata: " + anthropic_error(error, message) + b"\n\n"
