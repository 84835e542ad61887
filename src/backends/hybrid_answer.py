"""What a hybrid returns: the execution model's answer with the reasoning and both phases'
usage folded in, or, when the reasoning model only called tools, those tool calls."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import orjson

from src.backends.answer import Answer, BufferedAnswer
from src.backends.reasoning import Thought
from src.wire.errors import UpstreamStatusError
from src.wire.openai_chat import CHAT
from src.wire.protocol import InBandError
from src.wire.sse import Event

JSON_HEADERS = {"content-type": "application/json"}


def tool_call_answer(thought: Thought, origin: str) -> BufferedAnswer:
    """A completion holding the reasoning model's tool calls; streams replay it as chunks."""
    completion = {
        "id": thought.id or f"hybrid-{time.time_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": thought.model or "",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": None, "tool_calls": thought.tool_calls},
                "finish_reason": "tool_calls",
            }
        ],
    }
    if thought.usage:
        completion["usage"] = thought.usage
    return BufferedAnswer(200, JSON_HEADERS, orjson.dumps(completion), CHAT, origin)


class ReasonedAnswer(Answer):
    """The execution model's answer, its events rewritten on the way through."""

    def __init__(self, inner: Answer, thought: Thought) -> None:
        self._inner = inner
        self._thought = thought
        self.status, self.headers = inner.status, inner.headers
        self.protocol, self.origin = inner.protocol, inner.origin

    @property
    def is_stream(self) -> bool:
        return self._inner.is_stream

    async def read(self) -> bytes:
        return _completion_with(await self._inner.read(), self._thought)

    async def events(self) -> AsyncIterator[list[Event]]:
        pending = True  # the reasoning still has to go into the first delta
        async for batch in self._inner.events():
            rewritten = []
            for event in batch:
                event, pending = _event_with(event, self._thought, pending)
                rewritten.append(event)
            yield rewritten

    def failure(self, error: InBandError, payload: bytes) -> UpstreamStatusError:
        return self._inner.failure(error, payload)

    async def aclose(self) -> None:
        await self._inner.aclose()


def _completion_with(body: bytes, thought: Thought) -> bytes:
    try:
        completion = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body
    if not isinstance(completion, dict):
        return body
    choices = completion.get("choices")
    message = choices[0].get("message") if isinstance(choices, list) and choices and isinstance(choices[0], dict) else None
    if thought.reasoning and isinstance(message, dict) and not message.get("reasoning"):
        message["reasoning"] = thought.reasoning
    if thought.usage and isinstance(completion.get("usage"), dict):
        completion["usage"] = add_usage(completion["usage"], thought.usage)
    return orjson.dumps(completion)


def _event_with(event: Event, thought: Thought, pending: bool) -> tuple[Event, bool]:
    wants_reasoning = pending and thought.reasoning and b'"choices"' in event.raw
    wants_usage = thought.usage and b'"usage"' in event.raw
    if not (wants_reasoning or wants_usage):
        return event, pending
    chunk = event.payload
    if not isinstance(chunk, dict):
        return event, pending
    choices = chunk.get("choices")
    first = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else None
    if wants_reasoning and first is not None and isinstance(first.get("delta"), dict):
        first["delta"]["reasoning"] = thought.reasoning
        pending = False
    if wants_usage and isinstance(chunk.get("usage"), dict):
        chunk["usage"] = add_usage(chunk["usage"], thought.usage or {})
    return Event.of(chunk), pending


def add_usage(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """Two usage objects as one: numbers added, nested details merged the same way."""
    total: dict[str, Any] = {}
    for key in {**a, **b}:
        x, y = a.get(key), b.get(key)
        if _number(x) and _number(y):
            total[key] = x + y  # type: ignore[operator]
        elif isinstance(x, Mapping) and isinstance(y, Mapping):
            total[key] = add_usage(x, y)
        else:
            total[key] = x if x is not None else y
    return total


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def answer_with_reasoning(answer: Answer, thought: Thought) -> Answer:
    if not thought.reasoning and not thought.usage:
        return answer
    return ReasonedAnswer(answer, thought)
