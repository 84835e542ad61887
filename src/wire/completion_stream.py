"""A non-streamed chat completion replayed as the chunk events a streaming client waits for.

Some OpenAI-compatible servers ignore `stream: true` and answer with one JSON
body. Passing that through would give a streaming client an empty, normal-looking
stream and lose the answer; replaying it as chunks delivers it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from src.wire.sse import Event

_KEPT = ("id", "created", "model", "provider", "system_fingerprint", "service_tier")
_DELTA_FIELDS = ("content", "reasoning", "reasoning_details", "refusal")


def completion_as_events(completion: Any) -> list[Event] | None:
    """SSE events equivalent to `completion`, ending in `[DONE]`; None if it is not a chat completion."""
    if not isinstance(completion, dict) or not isinstance(completion.get("choices"), list):
        return None
    base = {key: completion[key] for key in _KEPT if key in completion}
    base["object"] = "chat.completion.chunk"
    chunks = []
    for position, choice in enumerate(completion["choices"]):
        message = choice.get("message") if isinstance(choice, dict) else None
        if not isinstance(message, dict):
            return None
        index = choice.get("index", position)
        delta = _delta(message)
        chunks.append({**base, "choices": [{"index": index, "delta": delta, "finish_reason": None}]})
        finish = {"index": index, "delta": {}, "finish_reason": choice.get("finish_reason")}
        chunks.append({**base, "choices": [finish]})
    if completion.get("usage"):
        chunks.append({**base, "choices": [], "usage": completion["usage"]})
    return [*map(Event.of, chunks), Event(b"data: [DONE]\n\n")]


def _delta(message: Mapping[str, Any]) -> dict[str, Any]:
    delta: dict[str, Any] = {"role": message.get("role") or "assistant"}
    delta.update((field, message[field]) for field in _DELTA_FIELDS if message.get(field) is not None)
    calls = message.get("tool_calls")
    if isinstance(calls, list) and calls:
        # Stream deltas identify each call by `index`; a completion's calls have none.
        delta["tool_calls"] = [{**call, "index": i} for i, call in enumerate(calls) if isinstance(call, dict)]
    return delta
