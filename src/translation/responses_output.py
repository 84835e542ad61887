"""A chat completion as a Responses `response`: output items, status, usage.

The items' shapes are shared with the stream translator (`responses_stream`), so that a
streamed answer and a whole one end in the same `response` object.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from src.translation.anthropic_common import reasoning_text
from src.translation.reasoning_carrier import Carrier
from src.translation.responses_input import REASONING_FIELDS
from src.translation.responses_tools import ToolMap
from src.wire.errors import UpstreamProtocolError, UpstreamStatusError
from src.wire.fields import object_at, text_at
from src.wire.openai_chat import CHAT
from src.wire.responses import from_chat_usage, new_id, response_object

ECHOED = ("instructions", "max_output_tokens", "metadata", "parallel_tool_calls", "previous_response_id", "reasoning",
          "store", "temperature", "text", "tool_choice", "tools", "top_p", "truncation", "user")  # fmt: skip
INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


@dataclass
class Shape:
    """What every response to one request shares: its id, the model asked for, and how to map tools back."""

    model: str
    names: ToolMap
    carrier: Carrier
    family: str  # of the model that answered: a reasoning blob is sealed for it
    echo: dict[str, Any] = field(default_factory=dict)  # the request's fields that a response repeats
    response_id: str = field(default_factory=lambda: new_id("resp"))
    created: int = field(default_factory=lambda: int(time.time()))

    def response(self, status: str, output: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
        return response_object(self.response_id, self.model, status, self.created, **self.echo, output=output, **fields)

    def reasoning(self, item_id: str, text: str, fields: dict[str, Any]) -> dict[str, Any]:
        sealed = self.carrier.seal("reasoning", self.family, fields) if fields else None
        summary = [{"type": "summary_text", "text": text}] if text else []
        return {"type": "reasoning", "id": item_id, "summary": summary, "encrypted_content": sealed}

    def call(self, upstream_name: str, call_id: str, item_id: str, arguments: str) -> dict[str, Any]:
        tool = self.names.back(upstream_name)
        if tool.kind == "custom":
            item = {"type": "custom_tool_call", "id": item_id, "call_id": call_id, "name": tool.name,
                    "input": _custom_input(arguments), "status": "completed"}  # fmt: skip
        else:
            item = {"type": "function_call", "id": item_id, "call_id": call_id, "name": tool.name,
                    "arguments": arguments or "{}", "status": "completed"}  # fmt: skip
        if tool.namespace:
            item["namespace"] = tool.namespace
        return item


def message_item(item_id: str, text: str, status: str = "completed") -> dict[str, Any]:
    part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
    return {"type": "message", "id": item_id, "status": status, "role": "assistant", "content": [part] if text else []}


def ending(finish_reason: object) -> tuple[str, dict[str, str] | None]:
    """(status, incomplete_details) for a chat finish_reason."""
    reason = INCOMPLETE.get(finish_reason) if isinstance(finish_reason, str) else None
    return ("incomplete", {"reason": reason}) if reason else ("completed", None)


def chat_to_response(completion: object, shape: Shape) -> dict[str, Any]:
    if not isinstance(completion, dict) or not isinstance(completion.get("choices"), list):
        raise UpstreamProtocolError("upstream", "answered with something that is not a chat completion")
    if failure := CHAT.in_band_error(completion):
        raise UpstreamStatusError("upstream", failure.status, failure.message, code=failure.code)
    choice = completion["choices"][0] if completion["choices"] and isinstance(completion["choices"][0], dict) else {}
    message = object_at(choice, "message")
    output: list[dict[str, Any]] = []
    text, fields = reasoning_text(message), {k: message[k] for k in REASONING_FIELDS if message.get(k)}
    if text or fields:
        output.append(shape.reasoning(new_id("rs"), text, fields))
    content = message.get("content")
    if isinstance(content, list):
        content = "".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    if isinstance(content, str) and content:
        output.append(message_item(new_id("msg"), content))
    for call in message.get("tool_calls") or []:
        function = object_at(call, "function")
        if name := text_at(function, "name"):
            call_id = text_at(call, "id") or new_id("call")
            output.append(shape.call(name, call_id, new_id("fc"), text_at(function, "arguments") or ""))
    status, details = ending(choice.get("finish_reason"))
    return shape.response(status, output, usage=from_chat_usage(completion.get("usage")), incomplete_details=details)


def _custom_input(arguments: str) -> str:
    """A custom tool's free-text input, from the one-string-argument function it was declared as."""
    try:
        parsed = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return arguments
    found = text_at(parsed, "input")
    return arguments if found is None else found
