"""An OpenAI chat completion as an Anthropic Message (wire-protocols D2-D4)."""

from __future__ import annotations

from collections.abc import Sequence

from src.translation.anthropic_common import (
    anthropic_usage,
    first_choice,
    message_id,
    reasoning_signature,
    reasoning_text,
    redacted_thinking,
    stop_details,
    tool_input,
    tool_use_id,
)
from src.translation.tool_names import ToolNames
from src.wire.errors import UpstreamProtocolError, UpstreamStatusError
from src.wire.openai_chat import CHAT

_UNNAMED_TOOL = "unknown_tool"


def chat_to_message(
    completion: dict,
    requested_model: str,
    tool_names: ToolNames,
    *,
    stop_sequences: Sequence[str] = (),
) -> dict:
    """The Anthropic Message for a non-streaming chat completion.

    `requested_model` is echoed as the client asked for it; `tool_names` comes from
    `messages_to_chat` and restores tool names that had to be rewritten; `stop_sequences`
    (the request's) is what lets a matched stop sequence be reported (D3).
    A failure reported inside a 200 (`error`, `finish_reason: "error"`, A5) raises
    UpstreamStatusError: Anthropic has no partial-failure message.
    """
    if not isinstance(completion, dict):
        raise UpstreamProtocolError("upstream", "the chat completion is not a JSON object")
    choice = first_choice(completion)
    if failure := CHAT.in_band_error(completion):
        raise UpstreamStatusError("upstream", failure.status, failure.message, code=failure.code)
    choice = choice or {}
    message = choice.get("message")
    message = message if isinstance(message, dict) else {}
    msg_id = message_id(completion.get("id"))
    tool_blocks = _tool_blocks(message.get("tool_calls"), tool_names, msg_id)
    content = _thinking_blocks(message) + _text_blocks(message) + tool_blocks
    stop_reason, stop_sequence = stop_details(choice, bool(tool_blocks), stop_sequences)
    return {
        "id": msg_id,
        "type": "message",
        "role": "assistant",
        "model": requested_model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "usage": anthropic_usage(completion.get("usage")),
    }


def _thinking_blocks(message: dict) -> list[dict]:
    """D2: thinking first. Anthropic requires a `signature`; "" when the upstream sent none."""
    blocks = []
    text = reasoning_text(message)
    signature = reasoning_signature(message)
    if text or signature:
        blocks.append({"type": "thinking", "thinking": text, "signature": signature})
    blocks.extend({"type": "redacted_thinking", "data": data} for data in redacted_thinking(message))
    return blocks


def _text_blocks(message: dict) -> list[dict]:
    """One text block, skipped when empty or blank (Anthropic rejects those when replayed, D7.3)."""
    content = message.get("content")
    if isinstance(content, list):  # some servers answer with content parts
        content = "".join(
            part["text"] for part in content if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    if not isinstance(content, str) or not content.strip():
        refusal = message.get("refusal")
        content = refusal if isinstance(refusal, str) else ""
    return [{"type": "text", "text": content}] if content.strip() else []


def _tool_blocks(tool_calls: object, tool_names: ToolNames, msg_id: str) -> list[dict]:
    if not isinstance(tool_calls, list):
        return []
    blocks = []
    for position, call in enumerate(tool_calls):
        if not isinstance(call, dict):
            continue
        function = call.get("function")
        function = function if isinstance(function, dict) else {}
        name = function.get("name")
        blocks.append(
            {
                "type": "tool_use",
                "id": tool_use_id(call.get("id"), msg_id, position),
                "name": tool_names.client(name) if isinstance(name, str) and name else _UNNAMED_TOOL,
                "input": tool_input(function.get("arguments")),
            }
        )
    return blocks
