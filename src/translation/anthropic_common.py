"""What the non-streaming and the streaming OpenAI → Anthropic translators share (D2-D4, D6)."""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence

import orjson

from src.translation.tool_names import safe_identifier

# D3. content_filter: LiteLLM says end_turn and CCR stop_sequence; `refusal` is the Anthropic
# value that tells a client the model declined, which is what a content filter means.
_STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


# OpenRouter labels each reasoning_details item with the format of the model that made it;
# only Anthropic's signatures and encrypted blocks mean anything as Anthropic thinking.
ANTHROPIC_REASONING_FORMAT = "anthropic-claude-v1"


def message_id(completion_id: object) -> str:
    """A `msg_` id derived from the upstream id, so logs on both sides can be matched."""
    if isinstance(completion_id, str) and completion_id:
        return completion_id if completion_id.startswith("msg_") else f"msg_{completion_id}"
    return f"msg_{uuid.uuid4().hex}"


def tool_use_id(raw: object, message: str, position: int) -> str:
    """The upstream's tool-call id made valid for Anthropic, or a stable stand-in when it sent none."""
    if isinstance(raw, str) and raw:
        return safe_identifier(raw)
    return safe_identifier(f"toolu_{message.removeprefix('msg_')}_{position}")


def tool_input(arguments: object) -> dict:
    """`input` for a tool_use block from OpenAI `arguments`; never raises (D2).

    Anthropic requires an object, so anything that does not parse to one keeps the raw text
    under `raw_input` (switchyard's convention in D2) rather than failing the whole reply.
    """
    if isinstance(arguments, dict):
        return arguments  # a few providers send the object itself
    if arguments is None or (isinstance(arguments, str) and not arguments.strip()):
        return {}
    if not isinstance(arguments, str):
        return {"raw_input": orjson.dumps(arguments).decode()}
    try:
        value = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return {"raw_input": arguments}
    return value if isinstance(value, dict) else {"raw_input": arguments}


def stop_details(choice: dict, produced_tool_use: bool, stop_sequences: Sequence[str]) -> tuple[str, str | None]:
    """(stop_reason, stop_sequence) for the choice that carried `finish_reason` (D3).

    OpenAI does not say which stop sequence matched. Two upstream hints are trusted, and only
    for a sequence the client actually asked for: vLLM-style servers put the matched string in
    the choice's `stop_reason`, and OpenRouter passes Anthropic's own `stop_sequence` as
    `native_finish_reason` (then the sequence is known only if the client sent exactly one).
    """
    if produced_tool_use:
        return "tool_use", None  # D3: several gateways force this whatever the upstream said
    finish = choice.get("finish_reason")
    if finish in (None, "stop"):
        matched = choice.get("stop_reason")
        if isinstance(matched, str) and matched in stop_sequences:
            return "stop_sequence", matched
        if choice.get("native_finish_reason") == "stop_sequence":
            return "stop_sequence", stop_sequences[0] if len(stop_sequences) == 1 else None
    reason = _STOP_REASONS.get(finish, "end_turn") if isinstance(finish, str) else "end_turn"
    # A tool_use stop with no tool_use block would leave a client waiting for a call to run.
    return ("end_turn" if reason == "tool_use" else reason), None


def anthropic_usage(usage: object) -> dict[str, int]:
    """OpenAI usage as Anthropic usage (D4): `input_tokens` excludes cache reads and writes."""
    usage = usage if isinstance(usage, dict) else {}
    details = usage.get("prompt_tokens_details")
    details = details if isinstance(details, dict) else {}
    cache_read = _count(details.get("cached_tokens"))
    cache_write = (
        _count(details.get("cache_write_tokens"))
        or _count(details.get("cache_creation_tokens"))
        or _count(usage.get("cache_creation_input_tokens"))
    )
    return {
        "input_tokens": max(_count(usage.get("prompt_tokens")) - cache_read - cache_write, 0),
        "output_tokens": _count(usage.get("completion_tokens")),
        "cache_creation_input_tokens": cache_write,
        "cache_read_input_tokens": cache_read,
    }


def zero_usage(input_tokens: int = 0) -> dict[str, int]:
    # D4: every counter present, cache ones included, tells Claude Code caching is supported.
    return {
        "input_tokens": input_tokens,
        "output_tokens": 0,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    if isinstance(value, float) and not math.isfinite(value):
        return 0
    return max(int(value), 0)


def reasoning_text(fields: dict) -> str:
    """The plain reasoning text of a message or delta: OpenRouter `reasoning`, else `reasoning_content`.

    Falls back to the text items of `reasoning_details`, which OpenRouter fills alongside
    `reasoning` (so using both would repeat the text).
    """
    for key in ("reasoning", "reasoning_content"):
        value = fields.get(key)
        if isinstance(value, str) and value:
            return value
    texts = []
    for item in _details(fields):
        kind = item.get("type")
        value = item.get("text") if kind == "reasoning.text" else item.get("summary")
        if kind in ("reasoning.text", "reasoning.summary") and isinstance(value, str):
            texts.append(value)
    return "".join(texts)


def reasoning_signature(fields: dict) -> str:
    """The Anthropic thinking signature carried in `reasoning_details`, or ""."""
    return "".join(
        item["signature"]
        for item in _details(fields)
        if item.get("type") == "reasoning.text" and isinstance(item.get("signature"), str) and _is_anthropic(item)
    )


def redacted_thinking(fields: dict) -> list[str]:
    """The `data` of each Anthropic encrypted reasoning item, for redacted_thinking blocks."""
    return [
        item["data"]
        for item in _details(fields)
        if item.get("type") == "reasoning.encrypted"
        and isinstance(item.get("data"), str)
        and item["data"]
        and _is_anthropic(item)
    ]


def _details(fields: dict) -> list[dict]:
    details = fields.get("reasoning_details")
    if not isinstance(details, list):
        return []
    return [item for item in details if isinstance(item, dict)]


def _is_anthropic(item: dict) -> bool:
    fmt = item.get("format")
    return fmt is None or (isinstance(fmt, str) and fmt.startswith("anthropic"))


def first_choice(payload: dict) -> dict | None:
    """Choice 0, or None: the usage chunk has `choices: []` (D7.9)."""
    choices = payload.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        return choices[0]
    return None
