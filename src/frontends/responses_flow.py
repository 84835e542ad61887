"""How a Responses request reaches each route of its plan, and the stream step that answers it.

A route whose backend speaks the Responses API itself (`responses: native`) gets the request as
it came. Every other route gets it translated to chat completions, once per model family (the
reasoning a client sends back is restored only for the family that produced it).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from src.backends.answer import Answer
from src.backends.base import Backend, Call
from src.frontends.responses_state import ResponsesState
from src.routing.plan import Route
from src.translation.reasoning_carrier import family
from src.translation.responses_request import responses_to_chat
from src.translation.responses_stream import ResponsesStream
from src.translation.responses_tools import ToolMap
from src.wire.errors import NotFound, UpstreamError, UpstreamUnreachable
from src.wire.json_body import dumps
from src.wire.openai_chat import is_done
from src.wire.sse import Event

COMPACT_PROMPT = (
    "Your context is about to be compacted: the conversation above will be replaced by what you write now. "
    "Write a summary a capable engineer could continue the work from: the user's goals and constraints, the "
    "decisions made and why, the files, code and commands involved with their results and any errors, and "
    "what remains to be done. Be complete about facts and concise in words. Do not call tools."
)


@dataclass(frozen=True)
class Translation:
    call: Call  # the chat-completions request
    names: ToolMap
    history: list[dict[str, Any]]  # the conversation sent, without the system message


@dataclass
class ResponsesOutbound:
    call: Call  # the client's Responses request
    backends: Mapping[str, Backend]
    state: ResponsesState
    first: Route
    compacting: bool  # asked for a compaction: a summary instead of an answer
    _translations: dict[str, Translation] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.native(self.first):
            self.translation(self.first)  # a malformed request fails before any attempt

    def native(self, route: Route) -> bool:
        backend = self.backends.get(route.backend)
        return backend is not None and backend.serves_responses(route.model)

    def translation(self, route: Route) -> Translation:
        key = family(route.answerer.model)
        if key not in self._translations:
            chat, names, history = responses_to_chat(self.call.body, self._previous(), self.state.carrier, key)
            if self.compacting:
                for name in ("tools", "tool_choice", "parallel_tool_calls", "response_format"):
                    chat.pop(name, None)
                chat["messages"] = [*chat["messages"], {"role": "user", "content": COMPACT_PROMPT}]
            self._translations[key] = Translation(replace(self.call, raw=dumps(chat), body=chat), names, history)
        return self._translations[key]

    def _previous(self) -> list[dict[str, Any]]:
        previous = self.call.body.get("previous_response_id")
        if previous is None:
            return []
        history = self.state.conversations.get(previous) if isinstance(previous, str) else None
        if history is None:
            raise NotFound(
                f"no stored response {str(previous)[:80]!r}: responses are kept for an hour, the last 1,000, and "
                "not at all with store: false; send the whole conversation in `input` instead",
                param="previous_response_id", code="previous_response_not_found",
            )  # fmt: skip
        return history

    async def send(self, route: Route, key: int | None) -> Answer:
        backend = self.backends[route.backend]
        if backend.serves_responses(route.model):
            return await backend.responses(self.call, route, key)
        return await backend.chat(self.translation(route).call, route, key)


async def translated(
    batches: AsyncIterator[list[Event]], translator: Any, origin: str, on_done: Callable[[Any], None]
) -> AsyncIterator[list[Event]]:
    """Chat chunk events in, Responses events out. The translator ends the stream itself, with its
    own `response.failed` when the upstream breaks or stops short: it alone knows the response's id."""
    async with contextlib.aclosing(batches):  # type: ignore[type-var]
        try:
            async for batch in batches:
                out: list[Event] = []
                for event in batch:
                    if is_done(event):
                        out += translator.finish()
                    elif isinstance(payload := event.payload, dict):
                        out += translator.feed(payload)
                if out:
                    yield out
        except UpstreamError as exc:
            yield translator.fail(exc)
            return
    if not translator.done:
        yield translator.fail(UpstreamUnreachable(origin, "the stream ended before it was complete"))
    on_done(translator)


class CompactionStream(ResponsesStream):
    """A compaction's answer: the model's summary, held whole, then one `compaction` item."""

    def __init__(self, shape: Any, max_chars: int) -> None:
        super().__init__(shape, max_chars)
        self._summary: list[str] = []

    def _text(self, kind: str, text: str, events: list[Event]) -> None:
        if kind == "message":  # reasoning is not part of a summary
            self._summary.append(text)
            self._chars += len(text)

    def _call(self, delta: dict[str, Any], position: int) -> None:
        return None  # told not to call tools: a stray call is no summary

    def _keep_reasoning(self, delta: dict[str, Any]) -> bool:
        return False  # nor is reasoning, which gets no item of its own here

    def finish(self) -> list[Event]:
        if self.done:
            return []
        events = self._start()
        item = compaction_item(self.shape, "".join(self._summary))
        events.append(self._event("response.output_item.added", output_index=0, item=item))
        events.append(self._event("response.output_item.done", output_index=0, item=item))
        self.output.append(item)
        return events + super().finish()


def compaction_item(shape: Any, summary: str) -> dict[str, Any]:
    sealed = shape.carrier.seal("compaction", shape.family, {"summary": summary})
    return {"type": "compaction", "id": shape.response_id.replace("resp_", "cmp_", 1), "encrypted_content": sealed}
