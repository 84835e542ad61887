"""Responses `input` items as chat-completions messages.

Consecutive calls become one assistant message with `tool_calls`, each output a `tool` message
after them; a reasoning item the proxy sealed gives its fields back to the assistant message that
follows it, when that message goes to a model of the same family; a compaction item becomes the
summary it carries. System and developer messages are the caller's to merge (`system_texts`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from src.translation.reasoning_carrier import Carrier
from src.translation.responses_tools import ToolMap
from src.wire.errors import InvalidRequest
from src.wire.fields import text_at
from src.wire.json_body import dumps

log = logging.getLogger("switchyard.responses")
REASONING_FIELDS = ("reasoning_content", "reasoning_details", "reasoning")
SUMMARY_NOTE = "A summary of the conversation so far, written when it was compacted:\n\n"
_TEXT_PARTS = ("input_text", "output_text", "text", "summary_text", "refusal")


@dataclass
class Conversation:
    carrier: Carrier
    family: str  # of the model that answers: reasoning fields go back only to their own family
    names: ToolMap
    system_texts: list[str] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    _reasoning: dict[str, Any] = field(default_factory=dict)  # restored, for the next assistant message
    _open_calls: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        # A previous response's calls, still waiting for their outputs.
        for message in self.messages:
            if message.get("role") == "tool":
                self._open_calls.discard(message.get("tool_call_id"))
            for call in message.get("tool_calls") or ():
                if isinstance(call, dict) and isinstance(call.get("id"), str):
                    self._open_calls.add(call["id"])

    def add(self, item: object, at: str) -> None:
        if not isinstance(item, dict):
            raise InvalidRequest(f"{at}: each input item must be an object", param=at)
        kind = item.get("type", "message" if "role" in item else None)
        handler = _HANDLERS.get(kind) if isinstance(kind, str) else None
        if handler is None:
            if not isinstance(kind, str):
                raise InvalidRequest(f"{at}.type: an input item needs a type", param=f"{at}.type")
            log.warning("responses: input item of type %r has no chat equivalent; left out", kind[:64])
            return
        handler(self, item, at)

    def _message(self, item: dict[str, Any], at: str) -> None:
        role, content = item.get("role"), item.get("content")
        if role in ("system", "developer"):
            self.system_texts.append(_text(content, f"{at}.content"))
        elif role == "user":
            self.messages.append({"role": "user", "content": _user_content(content, f"{at}.content")})
        elif role == "assistant":
            message = self._assistant()
            message["content"] = (message["content"] or "") + _text(content, f"{at}.content") or None
        else:
            raise InvalidRequest(f"{at}.role: must be user, assistant, system or developer", param=f"{at}.role")

    def _call(self, item: dict[str, Any], at: str) -> None:
        call_id, name = item.get("call_id"), item.get("name")
        if not isinstance(call_id, str) or not call_id or not isinstance(name, str) or not name:
            raise InvalidRequest(f"{at}: a call needs a call_id and a name", param=at)
        namespace = item.get("namespace") if isinstance(item.get("namespace"), str) else None
        if item.get("type") == "custom_tool_call":
            arguments = dumps({"input": text_at(item, "input") or ""}).decode()
        else:
            arguments = text_at(item, "arguments") or "{}"
        function = {"name": self.names.upstream(name, namespace), "arguments": arguments or "{}"}
        self._assistant(calls=True).setdefault("tool_calls", []).append({"id": call_id, "type": "function", "function": function})
        self._open_calls.add(call_id)

    def _output(self, item: dict[str, Any], at: str) -> None:
        call_id = item.get("call_id")
        output = _text(item.get("output"), f"{at}.output", lenient=True)
        if isinstance(call_id, str) and call_id in self._open_calls:
            self._open_calls.discard(call_id)
            self.messages.append({"role": "tool", "tool_call_id": call_id, "content": output})
        else:  # its call is not in this conversation (compacted away): still the model's to read
            self.messages.append({"role": "user", "content": f"[output of tool call {call_id}]\n{output}"})

    def _reasoning_item(self, item: dict[str, Any], at: str) -> None:
        opened = self.carrier.open(item.get("encrypted_content"), "reasoning")
        if opened is not None and opened[0] == self.family:
            self._reasoning.update(opened[1])

    def _compaction(self, item: dict[str, Any], at: str) -> None:
        opened = self.carrier.open(item.get("encrypted_content"), "compaction")
        if opened is None:
            log.warning("responses: a compaction item this proxy did not write is left out")
            return
        self.messages.append({"role": "user", "content": SUMMARY_NOTE + str(opened[1].get("summary", ""))})

    def _assistant(self, calls: bool = False) -> dict[str, Any]:
        """The assistant message to add to: the last one, if nothing came after it, else a new one."""
        last = self.messages[-1] if self.messages else None
        if last is not None and last["role"] == "assistant" and (calls or not last.get("tool_calls")):
            return last
        message: dict[str, Any] = {"role": "assistant", "content": None, **self._reasoning}
        self._reasoning = {}
        self.messages.append(message)
        return message


def _ignore(conversation: Conversation, item: dict[str, Any], at: str) -> None:
    """Items that carry nothing for the model: a reference to a stored item, a compaction's trigger."""


_HANDLERS = {
    "message": Conversation._message,
    "function_call": Conversation._call,
    "custom_tool_call": Conversation._call,
    "function_call_output": Conversation._output,
    "custom_tool_call_output": Conversation._output,
    "reasoning": Conversation._reasoning_item,
    "compaction": Conversation._compaction,
    "compaction_summary": Conversation._compaction,
    "compaction_trigger": _ignore,
    "item_reference": _ignore,
}


def _text(content: object, at: str, lenient: bool = False) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part["text"] for part in content if isinstance(part, dict) and part.get("type") in _TEXT_PARTS
                       and isinstance(part.get("text"), str))  # fmt: skip
    if lenient:
        return dumps(content).decode()
    raise InvalidRequest(f"{at}: must be a string or an array of content parts", param=at)


def _user_content(content: object, at: str) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise InvalidRequest(f"{at}: must be a string or an array of content parts", param=at)
    parts = [part for index, raw in enumerate(content) if (part := _part(raw, f"{at}.{index}")) is not None]
    if all(part["type"] == "text" for part in parts):
        return "".join(part["text"] for part in parts)
    return parts


def _part(part: object, at: str) -> dict[str, Any] | None:
    if not isinstance(part, dict):
        raise InvalidRequest(f"{at}: each content part must be an object", param=at)
    kind = part.get("type")
    if kind in _TEXT_PARTS:
        return {"type": "text", "text": part.get("text") if isinstance(part.get("text"), str) else ""}
    if kind == "input_image":
        url = part.get("image_url")
        if not isinstance(url, str) or not url:
            raise InvalidRequest(f"{at}.image_url: an image needs a URL or a data URL (file ids are OpenAI's)", param=at)
        image: dict[str, Any] = {"url": url}
        if part.get("detail") in ("low", "high", "auto"):
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    if kind == "input_file" and isinstance(part.get("file_data"), str):
        return {"type": "file", "file": {"filename": part.get("filename") or "file", "file_data": part["file_data"]}}
    raise InvalidRequest(f"{at}.type: content part {str(kind)[:64]!r} is not supported on this route", param=f"{at}.type")
