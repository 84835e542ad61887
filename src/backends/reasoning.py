"""The first phase of a hybrid: read a model's reasoning from its stream, and stop it when the
reasoning ends, so that its answer is never generated or paid for.

Reasoning arrives in OpenRouter's `reasoning` delta field, in `reasoning_content` (DeepSeek,
vLLM, llama.cpp), or as text inside `<think>…</think>` at the start of the content.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from src.wire.fields import list_at, object_at, text_at

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"


@dataclass
class Thought:
    reasoning: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    usage: dict[str, Any] | None = None
    id: str | None = None
    model: str | None = None


class ReasoningReader:
    """Fed the reasoning model's chunks one by one; `feed` says when to stop reading."""

    def __init__(self) -> None:
        self.thought = Thought()
        self._parts: list[str] = []
        self._content = ""  # content seen so far, while it may still open a <think> block
        self._in_think = False
        self._tools: dict[int, dict[str, Any]] = {}
        self.finished = False  # the model ended by itself: its usage chunk is still to come

    def feed(self, chunk: dict[str, Any]) -> bool:
        """True once the reasoning is over (or the model answers without any)."""
        if isinstance(chunk.get("usage"), dict):
            self.thought.usage = chunk["usage"]
        self.thought.id = self.thought.id or _str(chunk.get("id"))
        self.thought.model = self.thought.model or _str(chunk.get("model"))
        choices = chunk.get("choices")
        choice = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}
        delta = object_at(choice, "delta")
        for name in ("reasoning", "reasoning_content"):
            if (part := text_at(delta, name)) is not None:
                self._parts.append(part)
                break
        content = text_at(delta, "content")
        done = self._feed_content(content) if content is not None else False
        if tool_calls := list_at(delta, "tool_calls"):
            self._feed_tools(tool_calls)
            done = done or self.has_reasoning  # reasoning, then a tool call: the reasoning is over
        if choice.get("finish_reason"):
            self.finished = True
        return done or self.finished

    @property
    def has_reasoning(self) -> bool:
        return any(part.strip() for part in self._parts)

    def result(self) -> Thought:
        if self._in_think and THINK_CLOSE not in self._content:
            self._parts.append(self._content)  # cut off inside <think>: what was thought still counts
        self.thought.reasoning = "".join(self._parts).strip()
        self.thought.tool_calls = [self._tools[i] for i in sorted(self._tools)] if not self.thought.reasoning else []
        return self.thought

    def _feed_content(self, text: str) -> bool:
        self._content += text
        if not self._in_think:
            start = self._content.lstrip()
            if not start:
                return False  # OpenRouter sends "" with the role, and next to reasoning deltas
            if not start.startswith(THINK_OPEN):
                return not THINK_OPEN.startswith(start)  # "<thi" may still become "<think>"
            self._in_think = True
            self._content = start[len(THINK_OPEN) :]
        head, closed, _ = self._content.partition(THINK_CLOSE)
        if closed:
            self._parts.append(head)
        return bool(closed)

    def _feed_tools(self, deltas: list[Any]) -> None:
        for delta in deltas:
            if not isinstance(delta, dict) or not isinstance(delta.get("index", 0), int):
                continue
            call = self._tools.setdefault(
                delta.get("index", 0), {"id": "", "type": "function", "function": {"name": "", "arguments": ""}}
            )
            call["id"] = call["id"] or _str(delta.get("id")) or ""
            function = object_at(delta, "function")
            for key in ("name", "arguments"):
                call["function"][key] += text_at(function, key) or ""


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None
