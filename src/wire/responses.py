"""The OpenAI Responses API on the wire: envelopes, events, the in-band error rule, the end of a stream.

Errors use OpenAI's envelope, as on chat completions. A stream ends with `response.completed`
(or `response.incomplete`); a failure ends it with `response.failed`, whose `error.code` names
what went wrong in the vocabulary Codex and the SDKs act on.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

import orjson

from src.wire.errors import ProxyError
from src.wire.fields import object_at, text_at
from src.wire.openai_chat import CHAT
from src.wire.protocol import InBandError, in_band
from src.wire.sse import Event, Sent

LAST = (b"response.completed", b"response.incomplete")
_PREAMBLE = (b"response.created", b"response.in_progress", b"response.queued")
# A failure's code, by the status the client would have got: Codex retries on most, and stops on
# context_length_exceeded and insufficient_quota (its parser, codex-api/src/sse/responses.rs).
CODES = {400: "invalid_request_error", 401: "invalid_api_key", 402: "insufficient_quota", 403: "permission_denied",
         404: "not_found", 408: "timeout", 413: "context_length_exceeded", 429: "rate_limit_exceeded"}  # fmt: skip
STATUS_BY_CODE = {"rate_limit_exceeded": 429, "insufficient_quota": 402, "context_length_exceeded": 400,
                  "invalid_prompt": 400, "server_error": 500, "vector_store_timeout": 504}  # fmt: skip


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def failure_code(error: ProxyError) -> str:
    """The Responses error code for a failure: the upstream's own when it is one of them."""
    if error.code in STATUS_BY_CODE or error.code in CODES.values():
        return error.code  # type: ignore[return-value]
    if "context" in error.message.lower() and ("length" in error.message.lower() or "window" in error.message.lower()):
        return "context_length_exceeded"
    return CODES.get(error.status, "server_error")


def response_object(response_id: str, model: str, status: str, created: int | None = None, **fields: Any) -> dict[str, Any]:
    """A `response` object as the SDKs parse it, with every field they require."""
    return {
        "id": response_id, "object": "response", "created_at": created or int(time.time()), "status": status,
        "model": model, "output": [], "parallel_tool_calls": True, "tool_choice": "auto", "tools": [],
        "error": None, "incomplete_details": None, "usage": None, **fields,
    }  # fmt: skip


def event(kind: str, sequence: int, **fields: Any) -> Event:
    """A Responses stream event: its `type` named twice, as `event:` and in the data, and its number."""
    return Event.of({"type": kind, "sequence_number": sequence, **fields}, kind)


class Responses:
    name = "responses"

    def error_body(self, error: ProxyError, message: str) -> bytes:
        return CHAT.error_body(error, message)  # the same envelope as chat completions

    def error_event(self, error: ProxyError, message: str, sent: Sent | None = None) -> Event:
        """`response.failed`, for a stream that broke where no translator could end it: the same response
        (id, model) as the stream's first event, numbered after its last one, as the SDKs check."""
        opened = object_at(sent.first.payload if sent and sent.first else None, "response")
        last = sent.last.payload if sent and sent.last else None
        number = last.get("sequence_number") if isinstance(last, dict) else None
        failed = response_object(text_at(opened, "id") or new_id("resp"), text_at(opened, "model") or "", "failed",
                                 error={"code": failure_code(error), "message": message})  # fmt: skip
        return event("response.failed", number + 1 if isinstance(number, int) else 0, response=failed)

    def in_band_error(self, payload: object) -> InBandError | None:
        """`response.failed`, an `error` event, or a whole response whose status is failed."""
        if not isinstance(payload, dict):
            return None
        kind = payload.get("type")
        response = payload.get("response") if kind == "response.failed" else payload
        if kind == "error":
            return in_band(payload)
        if not isinstance(response, dict) or response.get("status") != "failed":
            return None
        error = object_at(response, "error")
        code = text_at(error, "code")
        status = STATUS_BY_CODE.get(code) if code is not None else None
        found = in_band({**error, "code": None})
        return InBandError(status or found.status, found.message, code, found.kind)

    def is_last(self, event: Event) -> bool:
        return event.name in LAST

    def carries_content(self, event: Event) -> bool:
        return bool(event.data) and event.name not in _PREAMBLE

    def usage(self, payload: object) -> Mapping[str, Any] | None:
        """A whole response's `usage`, or `response.completed`'s, in chat completions' shape."""
        if not isinstance(payload, dict):
            return None
        response = payload.get("response")
        usage = (response if isinstance(response, dict) else payload).get("usage")
        return as_chat_usage(usage) if isinstance(usage, Mapping) else None

    def replay(self, body: bytes) -> list[Event] | None:
        try:
            response = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(response, dict) or response.get("object") != "response":
            return None
        created = {**response, "status": "in_progress", "output": [], "usage": None}
        events = [event("response.created", 0, response=created)]
        for index, item in enumerate(response.get("output") or []):
            events.append(event("response.output_item.done", index + 1, output_index=index, item=item))
        kind = "response.incomplete" if response.get("status") == "incomplete" else "response.completed"
        return [*events, event(kind, len(events), response=response)]


def as_chat_usage(usage: Mapping[str, Any]) -> dict[str, Any]:
    input_details = usage.get("input_tokens_details")
    output_details = usage.get("output_tokens_details")
    return {
        "prompt_tokens": usage.get("input_tokens"),
        "completion_tokens": usage.get("output_tokens"),
        "prompt_tokens_details": {"cached_tokens": input_details.get("cached_tokens")} if isinstance(input_details, dict) else {},
        "completion_tokens_details": (
            {"reasoning_tokens": output_details.get("reasoning_tokens")} if isinstance(output_details, dict) else {}
        ),
        **({"cost": usage["cost"]} if "cost" in usage else {}),
    }


def from_chat_usage(usage: object) -> dict[str, Any]:
    """Chat completions' usage as the Responses API reports it (every field present)."""
    usage = usage if isinstance(usage, dict) else {}
    prompt, completion = _count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens"))
    prompt_details, completion_details = object_at(usage, "prompt_tokens_details"), object_at(usage, "completion_tokens_details")
    shaped: dict[str, Any] = {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": _count(prompt_details.get("cached_tokens"))},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": _count(completion_details.get("reasoning_tokens"))},
        "total_tokens": _count(usage.get("total_tokens")) or prompt + completion,
    }
    if isinstance(usage.get("cost"), int | float) and not isinstance(usage.get("cost"), bool):
        shaped["cost"] = usage["cost"]  # OpenRouter's, kept so that the usage record prices it
    return shaped


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


RESPONSES = Responses()
