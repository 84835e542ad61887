"""OpenAI chat completions on the wire: envelopes, the in-band error rule, the end of a stream."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from src.wire.completion_stream import completion_as_events
from src.wire.errors import ProxyError, UpstreamProtocolError
from src.wire.protocol import InBandError, in_band, meaningful
from src.wire.sse import NOT_JSON, Event, Sent

TYPES = {
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
DONE = b"data: [DONE]\n\n"
# Keys of a delta that say nothing yet: a role announcement or an empty delta is not content.
_NO_CONTENT: tuple[object, ...] = (None, "", [], {})


def error_type(error: ProxyError) -> str:
    """The error's own type, else the conventional one for its status."""
    if error.error_type:
        return error.error_type
    return TYPES.get(error.status, "api_error" if error.status >= 500 else "invalid_request_error")


def is_done(event: Event) -> bool:
    return b"[DONE]" in event.raw and event.data.strip() == b"[DONE]"


class ChatCompletions:
    name = "openai"

    def error_body(self, error: ProxyError, message: str) -> bytes:
        """`{"error": {"message", "type", "param", "code"}}`, as the OpenAI SDK parses it."""
        body = {"message": message, "type": error_type(error), "param": error.param, "code": error.code}
        return orjson.dumps({"error": body})

    def error_event(self, error: ProxyError, message: str, sent: Sent | None = None) -> Event:
        """A `data:` object with a truthy `error`: the OpenAI SDK raises APIError on it."""
        body = {"message": message, "type": error_type(error), "param": error.param, "code": error.code or str(error.status)}
        return Event.of({"error": body})

    def in_band_error(self, payload: object) -> InBandError | None:
        """OpenRouter reports some failures inside a 200: a top-level `error`, a choice's own `error`, or
        `finish_reason: "error"`. An `error` with no code and no message (`{}`, `{"code": null,
        "message": ""}`) arrives on successful chunks of some routes and is not one."""
        if not isinstance(payload, dict):
            return None
        choice = _first_choice(payload)
        error = meaningful(payload.get("error")) or meaningful(choice.get("error") if choice else None)
        if error is None and not (choice and choice.get("finish_reason") == "error"):
            return None
        if isinstance(error, dict):
            return in_band(error, payload.get("message"))
        return in_band({"message": error or payload.get("message") or "the upstream model failed mid-generation"})

    def is_last(self, event: Event) -> bool:
        return is_done(event)

    def carries_content(self, event: Event) -> bool:
        chunk = event.payload
        if chunk is NOT_JSON:
            return bool(event.data)  # [DONE], or something only the client can judge; a comment is nothing
        if not isinstance(chunk, dict) or "choices" not in chunk or chunk.get("usage"):
            return True
        choices = chunk["choices"]
        if not isinstance(choices, list):
            return True
        for choice in choices:
            if not isinstance(choice, dict) or choice.get("finish_reason") is not None:
                return True
            delta = choice.get("delta")
            if not isinstance(delta, dict) or any(v not in _NO_CONTENT for k, v in delta.items() if k != "role"):
                return True
        return False

    def usage(self, payload: object) -> Mapping[str, Any] | None:
        usage = payload.get("usage") if isinstance(payload, dict) else None
        return usage if isinstance(usage, dict) else None

    def replay(self, body: bytes) -> list[Event] | None:
        try:
            completion = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        return completion_as_events(completion)


def _first_choice(payload: dict[str, Any]) -> dict[str, Any] | None:
    choices = payload.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        return choices[0]
    return None


CHAT = ChatCompletions()


def completion_of(payload: bytes, origin: str) -> dict[str, Any]:
    """A whole chat completion from an upstream's answer; UpstreamProtocolError for anything else."""
    try:
        completion = orjson.loads(payload)
    except orjson.JSONDecodeError:
        completion = None
    if not isinstance(completion, dict) or not isinstance(completion.get("choices"), list):
        raise UpstreamProtocolError(origin, "answered with something that is not a chat completion")
    return completion
