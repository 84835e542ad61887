"""The hybrid backend: one model reasons, another answers with that reasoning in its prompt.

A hybrid route names both models as its legs (`route.legs`: reasoning, then execution). Phase 1
streams the reasoning model and stops it once the reasoning ends. Phase 2 sends the client's
request to the execution model, the reasoning appended to the system message, and the client
gets that answer with the reasoning exposed as OpenRouter does (`reasoning`). A failed or slow
phase 1 is only a warning; a failed phase 2 is the hybrid route's failure.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from src.backends.answer import Answer
from src.backends.base import Backend, Call
from src.backends.hybrid_answer import answer_with_reasoning, tool_call_answer
from src.backends.reasoning import ReasoningReader, Thought
from src.routing.plan import Route
from src.wire.errors import UpstreamError
from src.wire.openai_chat import CHAT, is_done
from src.wire.sse import NOT_JSON

log = logging.getLogger("switchyard.hybrid")
DEFAULT_REASONING_TIMEOUT = 60.0
REASONING_BLOCK = (
    "<reasoning>\n{reasoning}\n</reasoning>\n"
    "The block above is a separate model's reasoning about this conversation. "
    "Use it to write your answer; do not mention it."
)


class HybridBackend(Backend):
    def __init__(self, name: str, backends: Mapping[str, Backend], reasoning_timeout: float) -> None:
        super().__init__(name)
        self._backends = backends  # the registry it belongs to: its legs' backends
        self._timeout = reasoning_timeout

    async def chat(self, call: Call, route: Route, key: int | None = None) -> Answer:
        reasoning, execution = route.legs
        thought = await self._reason(reasoning, call)
        if thought.tool_calls:
            return tool_call_answer(thought, reasoning.backend)
        changes = {"model": execution.model, **execution.params, **route.params}
        if thought.reasoning:
            changes["messages"] = with_reasoning(call.body.get("messages"), thought.reasoning)
        target = Route(execution.backend, execution.model)
        answer = await self._backends[execution.backend].chat(call.rewritten(changes), target)
        return answer_with_reasoning(answer, thought)

    async def _reason(self, leg: Route, call: Call) -> Thought:
        reader = ReasoningReader()
        changes = {"model": leg.model, **leg.params, "stream": True, "stream_options": {"include_usage": True}}
        try:
            async with asyncio.timeout(self._timeout):
                answer = await self._backends[leg.backend].chat(call.rewritten(changes), Route(leg.backend, leg.model))
                try:
                    await _read_reasoning(answer, reader)
                finally:
                    await answer.aclose()  # mid-stream: stops the model before it answers
        except (UpstreamError, TimeoutError) as exc:
            reason = exc.message if isinstance(exc, UpstreamError) else f"no reasoning within {self._timeout:g}s"
            log.warning("hybrid: the reasoning phase on %s failed (%s); answering without reasoning", leg, reason)
            return Thought()
        return reader.result()


async def _read_reasoning(answer: Answer, reader: ReasoningReader) -> None:
    async for batch in answer.events():
        for event in batch:
            if is_done(event):
                return
            payload = event.payload
            if payload is NOT_JSON or not isinstance(payload, dict):
                continue  # a comment or keep-alive
            if CHAT.in_band_error(payload) is not None:
                raise UpstreamError(answer.origin, "the reasoning stream ended with an error")
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
