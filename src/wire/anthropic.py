"""Anthropic Messages on the wire: envelopes, its status table read both ways, the in-band error
rule, and the end of a stream (`message_stop`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from src.wire.errors import ProxyError
from src.wire.protocol import InBandError, in_band, meaningful
from src.wire.sse import Event, Sent

TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}
_PREAMBLE = (b"message_start", b"ping")  # a stream opens with these before any content block


def type_for(status: int) -> str:
    """Anthropic's type for a status: the SDK picks its exception class by status, users read the type."""
    return TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")


def is_message_stop(event: Event) -> bool:
    if b"message_stop" not in event.raw:
        return False  # the usual case, decided without parsing
    return event.name == b"message_stop" or _type(event.payload) == "message_stop"


class Messages:
    name = "anthropic"

    def error_body(self, error: ProxyError, message: str) -> bytes:
        """`{"type": "error", "error": {"type", "message"}}`, as the Anthropic SDK parses it."""
        return orjson.dumps({"type": "error", "error": {"type": type_for(error.status), "message": message}})

    def error_event(self, error: ProxyError, message: str, sent: Sent | None = None) -> Event:
        return Event.of({"type": "error", "error": {"type": type_for(error.status), "message": message}}, "error")

    def in_band_error(self, payload: object) -> InBandError | None:
        """An `error` event, or a body whose `type` is "error" (or that holds a meaningful `error`)."""
        if not isinstance(payload, dict):
            return None
        error = payload.get("error")
        if payload.get("type") != "error":
            error = meaningful(error)  # as on chat: an error without a code or a message is none
            if error is None:
                return None
        if isinstance(error, dict):
            return in_band(error)
        return in_band({"message": error if isinstance(error, str) else None})

    def is_last(self, event: Event) -> bool:
        return is_message_stop(event)

    def carries_content(self, event: Event) -> bool:
        name = event.name
        if name is None:
            name = _type(event.payload).encode()
        return bool(event.data) and name not in _PREAMBLE

    def usage(self, payload: object) -> Mapping[str, Any] | None:
        """`message_start`'s `message.usage` or `message_delta`'s `usage`, as OpenAI counts them."""
        if not isinstance(payload, dict):
            return None
        usage = payload.get("usage")
        if not isinstance(usage, Mapping):
            message = payload.get("message")
            usage = message.get("usage") if isinstance(message, dict) else None
        return as_openai_usage(usage) if isinstance(usage, Mapping) else None

    def replay(self, body: bytes) -> list[Event] | None:
        return None  # a Messages client is given a stream or an error, never a replayed message


def as_openai_usage(usage: Mapping[str, Any]) -> dict[str, Any]:
    """Anthropic's counts (input excludes cache reads and writes) in OpenAI's shape (it includes them)."""
    shaped: dict[str, Any] = {}
    if _count(usage.get("input_tokens")) is not None:
        cached = _count(usage.get("cache_read_input_tokens")) or 0
        written = _count(usage.get("cache_creation_input_tokens")) or 0
        shaped["prompt_tokens"] = usage["input_tokens"] + cached + written
        shaped["prompt_tokens_details"] = {"cached_tokens": cached}
    if _count(usage.get("output_tokens")) is not None:
        shaped["completion_tokens"] = usage["output_tokens"]
    return shaped


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _type(payload: object) -> str:
    kind = payload.get("type") if isinstance(payload, dict) else None
    return kind if isinstance(kind, str) else ""


MESSAGES = Messages()
