"""The hybrid backend: one model reasons, another answers with that reasoning in its prompt.

Phase 1 streams the reasoning model and stops it once the reasoning ends. Phase 2 sends the
client's request to the execution model, the reasoning appended to the system message, and
the client gets that answer with the reasoning exposed as OpenRouter does (`reasoning`).
A failed or slow phase 1 is only a warning; a failed phase 2 is the hybrid route's failure.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import orjson

from src.backends.base import Backend
from src.backends.hybrid_answer import answer_with_reasoning, tool_call_answer
from src.backends.reasoning import ReasoningReader, Thought
from src.core.errors import UpstreamError
from src.core.pipeline import rewrite
from src.core.routing import Route
from src.core.streaming import EventSplitter, event_data, is_done
from src.transports.base import UpstreamResponse

log = logging.getLogger("switchyard.hybrid")
REASONING_BLOCK = (
    "<reasoning>\n{reasoning}\n</reasoning>\n"
    "The block above is a separate model's reasoning about this conversation. "
    "Use it to write your answer; do not mention it."
)


class Hybrid:
    def __init__(self, backends: Mapping[str, Backend]) -> None:
        self._backends = backends

    async def chat(
        self, route: Route, raw: bytes, body: dict[str, Any], headers: Mapping[str, str], stream: bool
    ) -> UpstreamResponse:
        assert route.hybrid is not None
        plan = route.hybrid
        thought = await self._reason(plan.reasoning, raw, body, headers, plan.reasoning_timeout)
        if thought.tool_calls:
            return tool_call_answer(thought)
        execution = plan.execution
        changes = {"model": execution.model, **execution.params, **route.params}
        if thought.reasoning:
            changes["messages"] = with_reasoning(body.get("messages"), thought.reasoning)
        upstream = await self._backends[execution.backend].chat(rewrite(raw, body, changes), headers)
        return answer_with_reasoning(upstream, thought)

    async def _reason(
        self, leg: Route, raw: bytes, body: dict[str, Any], headers: Mapping[str, str], timeout: float
    ) -> Thought:
        reader = ReasoningReader()
        changes = {"model": leg.model, **leg.params, "stream": True, "stream_options": {"include_usage": True}}
        try:
            async with asyncio.timeout(timeout):
                upstream = await self._backends[leg.backend].chat(rewrite(raw, body, changes), headers)
                try:
                    await _read_reasoning(upstream, reader, leg.backend)
                finally:
                    await upstream.aclose()  # mid-stream: stops the model before it answers
        except (UpstreamError, TimeoutError) as exc:
            reason = exc.message if isinstance(exc, UpstreamError) else f"no reasoning within {timeout:g}s"
            log.warning("hybrid: the reasoning phase on %s failed (%s); answering without reasoning", leg, reason)
            return Thought()
        return reader.result()


async def _read_reasoning(upstream: UpstreamResponse, reader: ReasoningReader, backend: str) -> None:
    splitter = EventSplitter()
    async for chunk in upstream.iter_chunks():
        for event in splitter.feed(chunk):
            if is_done(event):
                return
            try:
                payload = orjson.loads(event_data(event))
            except orjson.JSONDecodeError:
                continue  # a comment or keep-alive
            if isinstance(payload, dict):
                if payload.get("error"):
                    raise UpstreamError(backend, "the reasoning stream ended with an error")
                # Once the model has finished by itself, its usage chunk costs nothing to wait for.
                if reader.feed(payload) and not (reader.finished and reader.thought.usage is None):
                    return


def with_reasoning(messages: object, reasoning: str) -> object:
    """The messages with the reasoning block appended to the first system message, or as one."""
    if not isinstance(messages, list):
        return messages
    block = REASONING_BLOCK.format(reasoning=reasoning)
    for index, message in enumerate(messages):
        if isinstance(message, dict) and message.get("role") == "system":
            content = message.get("content")
            if isinstance(content, str):
                updated = {**message, "content": f"{content}\n\n{block}" if content else block}
            elif isinstance(content, list):
                updated = {**message, "content": [*content, {"type": "text", "text": block}]}
            else:
                continue
            return [*messages[:index], updated, *messages[index + 1 :]]
    return [{"role": "system", "content": block}, *messages]
