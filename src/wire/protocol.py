"""What every client or upstream protocol states once: its error envelopes, its in-band error
rule, its end-of-stream rule, and which of its events already show the client something.

Each protocol is one object (`src.wire.openai_chat.CHAT`, `src.wire.anthropic.MESSAGES`, ...);
the steps of the request path take the protocol they work in as a parameter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from src.wire.errors import ProxyError, status_of
from src.wire.sse import Event, Sent

# Error types upstreams put in a body or an event, and the status each stands for: Anthropic's
# types, OpenAI's, and OpenRouter's `error_type` vocabulary.
STATUS_BY_TYPE = {
    "invalid_request_error": 400, "invalid_request": 400, "context_length_exceeded": 400,
    "authentication_error": 401, "authentication": 401,
    "billing_error": 402, "payment_required": 402, "insufficient_quota": 402,
    "permission_error": 403, "permission_denied": 403,
    "not_found_error": 404, "not_found": 404,
    "request_too_large": 413, "payload_too_large": 413,
    "rate_limit_error": 429, "rate_limit_exceeded": 429,
    "api_error": 500, "server_error": 500, "server": 500,
    "provider_unavailable": 502, "provider_overloaded": 503, "timeout_error": 504, "timeout": 504,
    "overloaded_error": 529,
}  # fmt: skip
DEFAULT_FAILURE = "the upstream reported a failure without a message"


@dataclass(frozen=True, slots=True)
class InBandError:
    """A failure an upstream reported inside a 200: a body, or an event of its stream."""

    status: int  # what the client gets: the code's status, else the type's, else 502
    message: str
    code: str | None = None
    kind: str | None = None  # the upstream's error type


def in_band(error: Mapping[str, Any], fallback_message: object = None) -> InBandError:
    """The failure an error object describes, whatever odd types its fields have."""
    kind = _text(error.get("type")) or _text(error.get("error_type"))
    metadata = error.get("metadata")
    if kind is None and isinstance(metadata, Mapping):
        kind = _text(metadata.get("error_type"))
    status = status_of(error.get("code")) or status_of(error.get("status")) or status_of(error.get("http_status"))
    status = status or STATUS_BY_TYPE.get(kind or "", 502)
    message = _text(error.get("message")) or _text(fallback_message) or DEFAULT_FAILURE
    code = error.get("code")
    code_text = str(code) if isinstance(code, int | str) and not isinstance(code, bool) and len(str(code)) <= 64 else None
    return InBandError(status, message, code_text, kind)


def meaningful(error: object) -> object:
    """The error, unless it is empty: falsy, or an object without a code and without a message. Such
    errors arrive on successful chunks of some routes (`{"code": null, "message": ""}`)."""
    if isinstance(error, dict):
        return error if error.get("code") is not None or error.get("message") else None
    return error or None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


class WireProtocol(Protocol):
    name: str

    def error_body(self, error: ProxyError, message: str) -> bytes:
        """The error as a whole response body."""

    def error_event(self, error: ProxyError, message: str, sent: Sent | None = None) -> Event:
        """The event that ends a failed stream, after what was `sent`; the protocol's SDK raises on it."""

    def in_band_error(self, payload: object) -> InBandError | None:
        """A failure reported inside a 200 body or event; None for anything else."""

    def is_last(self, event: Event) -> bool:
        """Whether `event` is the one a complete stream ends with ([DONE], message_stop); an error
        event ends a stream too, and is told by `error_in`."""

    def carries_content(self, event: Event) -> bool:
        """Whether passing `event` on would show the client something; until then failover stays invisible."""

    def usage(self, payload: object) -> Mapping[str, Any] | None:
        """The usage a body or event reports, in OpenAI's shape (prompt_tokens, ...)."""

    def replay(self, body: bytes) -> list[Event] | None:
        """A whole answer to a streaming request as the stream it stands for; None if it is none."""


def error_in(event: Event, protocol: WireProtocol) -> InBandError | None:
    """The in-band error an event carries; the byte check keeps almost every event unparsed."""
    if b'"error"' not in event.raw:
        return None
    return protocol.in_band_error(event.payload)
