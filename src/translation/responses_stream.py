"""A chat-completions stream as a Responses event stream (the order Codex and the SDKs expect).

`response.created` and `response.in_progress`, then per output item `output_item.added`, its
content events and `output_item.done` with the whole item, then `response.completed` (or
`response.incomplete` on a length stop) with the usage, or `response.failed`. Reasoning and
text stream as they arrive; a tool call is held until it is whole, since a client runs it
from its `output_item.done` and needs its `call_id`, name and complete arguments there.
Every event has the next `sequence_number`; item ids are the same in `added` and `done`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from src.translation.anthropic_common import first_choice, reasoning_text
from src.translation.responses_output import Shape, ending, message_item
from src.wire.errors import ProxyError, UpstreamStatusError
from src.wire.fields import list_at, object_at, text_at
from src.wire.openai_chat import CHAT
from src.wire.responses import event, failure_code, from_chat_usage, new_id
from src.wire.sse import Event


@dataclass
class _Item:
    kind: str  # "reasoning" or "message"
    index: int
    id: str
    text: list[str] = field(default_factory=list)


@dataclass
class _Call:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class ResponsesStream:
    def __init__(self, shape: Shape, max_chars: int) -> None:
        self.shape = shape
        self.output: list[dict[str, Any]] = []
        self.message: dict[str, Any] = {"role": "assistant", "content": None}  # the answer, as chat history
        self._max_chars, self._chars = max_chars, 0
        self._sequence = 0
        self._started = self.done = False
        self._open: _Item | None = None
        self._calls: dict[int, _Call] = {}
        self._reasoning: dict[str, Any] = {}
        self._reasoned = False  # a reasoning item was opened: the upstream's reasoning fields have a place
        self._finish: object = None
        self._usage: object = None

    def feed(self, chunk: dict[str, Any]) -> list[Event]:
        if self.done:
            return []
        events = self._start()
        if failure := CHAT.in_band_error(chunk):
            return events + self.fail(UpstreamStatusError("upstream", failure.status, failure.message, code=failure.code))
        choice = first_choice(chunk)
        delta = object_at(choice, "delta")
        if thought := reasoning_text(delta):
            self._text("reasoning", thought, events)
        if self._keep_reasoning(delta) and not self._reasoned and self._open is None:
            self._open_item("reasoning", events)  # reasoning that is only encrypted details: its item opens first
        if content := text_at(delta, "content"):
            self._text("message", content, events)
        for position, call in enumerate(delta.get("tool_calls") or []):
            if isinstance(call, dict):
                self._call(call, position)
        if choice and choice.get("finish_reason"):
            self._finish = choice["finish_reason"]
        if isinstance(chunk.get("usage"), dict) and chunk["usage"]:
            self._usage = chunk["usage"]
        if self._chars > self._max_chars:
            return events + self.fail(ProxyError("the answer is larger than max_response_mb", status=502))
        return events

    def finish(self) -> list[Event]:
        """The upstream said it is done: the remaining items, then the response's last event."""
        if self.done:
            return []
        events = self._start()
        self._close(events)
        if self._reasoning and not self._reasoned:  # details that came after the text: sealed before the calls
            self._open_item("reasoning", events)
            self._close(events)
        for index in sorted(self._calls):
            self._emit_call(self._calls[index], events)
        status, details = ending(self._finish)
        response = self.shape.response(status, self.output, usage=from_chat_usage(self._usage), incomplete_details=details)
        events.append(self._event(f"response.{status}", response=response))
        self.done = True
        return events

    def fail(self, error: ProxyError) -> list[Event]:
        if self.done:
            return []
        events = self._start()
        if self._open is not None:  # the item cut short, as far as it got
            item, self._open = self._open, None
            self.output[item.index] = self._item_done(item, "incomplete")
        failure = {"code": failure_code(error), "message": error.message}
        response = self.shape.response("failed", self.output, error=failure, usage=from_chat_usage(self._usage))
        events.append(self._event("response.failed", response=response))
        self.done = True
        return events

    def _start(self) -> list[Event]:
        if self._started:
            return []
        self._started = True
        return [self._event(kind, response=self.shape.response("in_progress", [])) for kind in
                ("response.created", "response.in_progress")]  # fmt: skip

    def _text(self, kind: str, text: str, events: list[Event]) -> None:
        item = self._open
        if item is None or item.kind != kind:
            self._close(events)
            item = self._open_item(kind, events)
        where = {"item_id": item.id, "output_index": item.index}
        if kind == "reasoning" and not item.text:  # a summary part only for reasoning that has text
            part = {"type": "summary_text", "text": ""}
            events.append(self._event("response.reasoning_summary_part.added", **where, summary_index=0, part=part))
        item.text.append(text)
        self._chars += len(text)
        if kind == "reasoning":
            events.append(self._event("response.reasoning_summary_text.delta", **where, summary_index=0, delta=text))
        else:
            events.append(self._event("response.output_text.delta", **where, content_index=0, delta=text, logprobs=[]))

    def _open_item(self, kind: str, events: list[Event]) -> _Item:
        item = self._open = _Item(kind, len(self.output), new_id("rs" if kind == "reasoning" else "msg"))
        self.output.append({})  # its place, filled when it is done
        if kind == "reasoning":
            self._reasoned = True
            added: dict[str, Any] = {"type": "reasoning", "id": item.id, "summary": []}
            events.append(self._event("response.output_item.added", output_index=item.index, item=added))
        else:
            added = message_item(item.id, "", "in_progress")
            events.append(self._event("response.output_item.added", output_index=item.index, item=added))
            part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            where = {"item_id": item.id, "output_index": item.index}
            events.append(self._event("response.content_part.added", **where, content_index=0, part=part))
        return item

    def _close(self, events: list[Event]) -> None:
        item, self._open = self._open, None
        if item is None:
            return
        text, where = "".join(item.text), {"item_id": item.id, "output_index": item.index}
        part: dict[str, Any]
        if item.kind == "reasoning" and text:
            events.append(self._event("response.reasoning_summary_text.done", **where, summary_index=0, text=text))
            part = {"type": "summary_text", "text": text}
            events.append(self._event("response.reasoning_summary_part.done", **where, summary_index=0, part=part))
        elif item.kind == "message":
            events.append(self._event("response.output_text.done", **where, content_index=0, text=text, logprobs=[]))
            part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
            events.append(self._event("response.content_part.done", **where, content_index=0, part=part))
            self.message["content"] = (self.message["content"] or "") + text
        done = self.output[item.index] = self._item_done(item)
        events.append(self._event("response.output_item.done", output_index=item.index, item=done))

    def _item_done(self, item: _Item, status: str = "completed") -> dict[str, Any]:
        text = "".join(item.text)
        if item.kind == "reasoning":
            return self.shape.reasoning(item.id, text, self._reasoning)
        return message_item(item.id, text, status)

    def _keep_reasoning(self, delta: dict[str, Any]) -> bool:
        """Keeps the upstream's own reasoning fields, for the history and the sealed blob; True if any came."""
        kept = False
        for name in ("reasoning", "reasoning_content"):
            if text := text_at(delta, name):
                self._reasoning[name] = self._reasoning.get(name, "") + text
                kept = True
        if details := list_at(delta, "reasoning_details"):
            self._reasoning.setdefault("reasoning_details", []).extend(details)
            kept = True
        if kept:
            self.message.update(self._reasoning)
        return kept

    def _call(self, delta: dict[str, Any], position: int) -> None:
        index = delta.get("index")
        call = self._calls.setdefault(index if isinstance(index, int) else position, _Call())
        function = object_at(delta, "function")
        call.id = call.id or text_at(delta, "id") or ""
        call.name = call.name or text_at(function, "name") or ""
        if (arguments := text_at(function, "arguments")) is not None:
            call.arguments.append(arguments)
            self._chars += len(arguments)

    def _emit_call(self, call: _Call, events: list[Event]) -> None:
        if not call.name:
            return  # a call without a name cannot be run: nothing a client could do with it
        call_id, arguments = call.id or new_id("call"), "".join(call.arguments) or "{}"
        self.message.setdefault("tool_calls", []).append(
            {"id": call_id, "type": "function", "function": {"name": call.name, "arguments": arguments}}
        )
        index = len(self.output)
        done = self.shape.call(call.name, call_id, new_id("fc"), arguments)
        events.append(self._event("response.output_item.added", output_index=index, item={**done, "status": "in_progress",
                                  **({"input": ""} if done["type"] == "custom_tool_call" else {"arguments": ""})}))  # fmt: skip
        where = {"item_id": done["id"], "output_index": index}
        if done["type"] == "custom_tool_call":
            events.append(self._event("response.custom_tool_call_input.delta", **where, delta=done["input"]))
            events.append(self._event("response.custom_tool_call_input.done", **where, input=done["input"]))
        else:
            events.append(self._event("response.function_call_arguments.delta", **where, delta=arguments))
            events.append(self._event("response.function_call_arguments.done", **where, arguments=arguments))
        self.output.append(done)
        events.append(self._event("response.output_item.done", output_index=index, item=done))

    def _event(self, kind: str, **fields: Any) -> Event:
        self._sequence += 1
        return event(kind, self._sequence - 1, **fields)
