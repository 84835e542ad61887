"""An OpenAI chat-completion stream as an Anthropic Messages event stream (wire-protocols C4, D5).

One `StreamTranslator` per response. It is fed parsed `chat.completion.chunk` objects (SSE
comments and `[DONE]` are the caller's to skip) and returns finished SSE events as bytes. Work
per chunk is bounded by the chunk's own size: nothing is accumulated except, for a tool call
whose name has not arrived yet, its argument fragments (D5.5).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from src.translation.anthropic_common import (
    anthropic_usage,
    first_choice,
    message_id,
    reasoning_signature,
    reasoning_text,
    redacted_thinking,
    stop_details,
    tool_use_id,
    zero_usage,
)
from src.translation.tool_names import ToolNames
from src.wire.anthropic import type_for
from src.wire.openai_chat import CHAT

_UNNAMED_TOOL = "unknown_tool"
_PING = b'event: ping\ndata: {"type":"ping"}\n\n'


def sse(event: dict[str, Any]) -> bytes:
    """`event: <type>` plus `data:`: the Anthropic SDK dispatches on the event name (C4, D5.9)."""
    return b"event: " + str(event["type"]).encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"


class _ToolCall:
    __slots__ = ("index", "id", "name", "pending")

    def __init__(self) -> None:
        self.index: int | None = None  # the Anthropic block index once the block is open
        self.id: str | None = None
        self.name: str | None = None
        self.pending: list[str] = []  # argument fragments that arrived before the name


class StreamTranslator:
    """The D5 state machine: message_start, content blocks in index order, message_delta, message_stop."""

    def __init__(
        self,
        requested_model: str,
        tool_names: ToolNames,
        message_id: str | None = None,
        *,
        input_tokens: int = 0,
        stop_sequences: Sequence[str] = (),
    ) -> None:
        self._model = requested_model
        self._names = tool_names
        self._id = message_id
        self._input_tokens = input_tokens
        self._stop_sequences = stop_sequences
        self._started = False
        self._done = False
        self._next_index = 0
        self._open: int | None = None  # index of the block now open
        self._open_kind: str | None = None
        self._held_space = ""  # blank text not yet worth a block of its own
        self._tools: dict[int, _ToolCall] = {}
        self._finish: dict | None = None  # the choice that carried finish_reason
        self._usage: dict | None = None
        self._tool_used = False

    def feed(self, chunk: dict) -> list[bytes]:
        """The events one upstream chunk produces; nothing once the message is over (D5.6)."""
        if self._done or not isinstance(chunk, dict):
            return []
        choice = first_choice(chunk)
        if failure := CHAT.in_band_error(chunk):
            return [self.error(type_for(failure.status), failure.message)]
        events = self._start(chunk)
        if choice is not None and self._finish is None:
            delta = choice.get("delta")
            if isinstance(delta, dict):
                self._delta(delta, events)
            # D5.7: a chunk may carry content and finish_reason; the content went first.
            if isinstance(choice.get("finish_reason"), str) and choice["finish_reason"]:
                self._finish = choice
                self._close_all(events)
        usage = chunk.get("usage")
        if isinstance(usage, dict) and usage:
            self._usage = usage  # cumulative totals: the latest wins, never a sum (D4)
            # D5.6: the finish_reason chunk comes before the usage-only one, so message_delta
            # waits for usage sent with or after it (earlier usage may not be the final count).
            if self._finish is not None:
                self._end(events)
        return events

    def finish(self) -> list[bytes]:
        """The closing events after the upstream ended; safe with nothing fed, and idempotent."""
        if self._done:
            return []
        events = self._start({})
        self._close_all(events)
        self._end(events)
        return events

    def error(self, type: str, message: str) -> bytes:
        """An in-band `error` event (C4, D5.8) of Anthropic error `type`; the stream is over after it."""
        self._done = True
        return sse({"type": "error", "error": {"type": type, "message": message}})

    def ping(self) -> bytes:
        return _PING

    def _start(self, chunk: dict) -> list[bytes]:
        if self._started:
            return []
        self._started = True
        if self._id is None:
            self._id = message_id(chunk.get("id"))
        message: dict[str, Any] = {
            "id": self._id,
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": self._model,
            "stop_reason": None,
            "stop_sequence": None,
            "usage": zero_usage(self._input_tokens),
        }
        return [sse({"type": "message_start", "message": message})]

    def _delta(self, delta: dict, events: list[bytes]) -> None:
        # Within one chunk: reasoning, then text, then tool calls, the order D2 gives blocks.
        if thinking := reasoning_text(delta):
            self._open_block("thinking", {"type": "thinking", "thinking": "", "signature": ""}, events)
            events.append(self._block_delta({"type": "thinking_delta", "thinking": thinking}))
        if signature := reasoning_signature(delta):
            if self._open_kind != "thinking":
                self._open_block("thinking", {"type": "thinking", "thinking": "", "signature": ""}, events)
            events.append(self._block_delta({"type": "signature_delta", "signature": signature}))
        for data in redacted_thinking(delta):
            self._open_block("redacted_thinking", {"type": "redacted_thinking", "data": data}, events)
            self._close(events)
        text = delta.get("content")
        if not isinstance(text, str) or not text:
            text = delta.get("refusal")
        if isinstance(text, str) and text:
            self._text(text, events)
        tool_calls = delta.get("tool_calls")
        if isinstance(tool_calls, list):
            for position, call in enumerate(tool_calls):
                if isinstance(call, dict):
                    self._tool_delta(call, position, events)

    def _text(self, text: str, events: list[bytes]) -> None:
        if self._open_kind != "text":
            # Blank text before a tool call ("\n\n") would become an empty-looking block that
            # Anthropic rejects when replayed (D7.3): hold it until real text follows.
            if not text.strip():
                self._held_space += text
                return
            text, self._held_space = self._held_space + text, ""
            self._open_block("text", {"type": "text", "text": ""}, events)
        events.append(self._block_delta({"type": "text_delta", "text": text}))

    def _tool_delta(self, call: dict, position: int, events: list[bytes]) -> None:
        key = call.get("index")
        key = key if isinstance(key, int) else position
        tool = self._tools.get(key)
        if tool is None:
            tool = self._tools[key] = _ToolCall()
        function = call.get("function")
        function = function if isinstance(function, dict) else {}
        if tool.id is None and isinstance(call.get("id"), str) and call["id"]:
            tool.id = call["id"]
        if tool.name is None and isinstance(function.get("name"), str) and function["name"]:
            tool.name = function["name"]
        arguments = function.get("arguments")
        arguments = arguments if isinstance(arguments, str) else ""
        if tool.index is None:
            if tool.name is None or self._open_kind == "tool_use":
                # A tool_use block cannot be renamed once started: wait for the name (D5.5).
                # And while another call's block is open, this one is kept whole until the end:
                # upstreams may interleave fragments of parallel calls, but an Anthropic block
                # gets no delta after its content_block_stop.
                if arguments:
                    tool.pending.append(arguments)
                return
            self._open_tool(key, tool, events)
            arguments = "".join(tool.pending) + arguments
            tool.pending = []
        if arguments:
            # Usually the open block. A fragment for an earlier call (rare interleaving) still
            # goes to that call's own index, as claude-code-router does: dropping it would
            # corrupt the input, and SDKs accumulate deltas by index.
            events.append(self._block_delta({"type": "input_json_delta", "partial_json": arguments}, tool.index))

    def _open_tool(self, key: int, tool: _ToolCall, events: list[bytes]) -> None:
        block = {
            "type": "tool_use",
            "id": tool_use_id(tool.id, self._id or "", key),
            "name": self._names.client(tool.name) if tool.name else _UNNAMED_TOOL,
            "input": {},
        }
        tool.index = self._open_block("tool_use", block, events)
        self._tool_used = True

    def _open_block(self, kind: str, block: dict, events: list[bytes]) -> int:
        if self._open_kind == kind and kind in ("text", "thinking"):
            return self._open  # type: ignore[return-value]
        self._close(events)
        if kind != "text":
            self._held_space = ""
        index = self._next_index
        self._next_index += 1
        self._open, self._open_kind = index, kind
        events.append(sse({"type": "content_block_start", "index": index, "content_block": block}))
        return index

    def _block_delta(self, delta: dict, index: int | None = None) -> bytes:
        index = self._open if index is None else index
        return sse({"type": "content_block_delta", "index": index, "delta": delta})

    def _close(self, events: list[bytes]) -> None:
        if self._open is not None:
            events.append(sse({"type": "content_block_stop", "index": self._open}))
            self._open = self._open_kind = None

    def _close_all(self, events: list[bytes]) -> None:
        for key, tool in sorted(self._tools.items()):
            if tool.index is None and (tool.pending or tool.id):
                # Held back behind another call, or its name never came: open it now, whole.
                self._open_tool(key, tool, events)
                if tool.pending:
                    events.append(
                        self._block_delta({"type": "input_json_delta", "partial_json": "".join(tool.pending)})
                    )
                    tool.pending = []
        self._close(events)

    def _end(self, events: list[bytes]) -> None:
        stop_reason, stop_sequence = stop_details(self._finish or {}, self._tool_used, self._stop_sequences)
        usage = anthropic_usage(self._usage) if self._usage is not None else zero_usage(self._input_tokens)
        events.append(
            sse(
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": stop_reason, "stop_sequence": stop_sequence},
                    "usage": usage,
                }
            )
        )
        events.append(sse({"type": "message_stop"}))
        self._done = True
