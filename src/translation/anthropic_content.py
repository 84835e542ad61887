"""Anthropic messages and content blocks as OpenAI chat messages and content parts (D1, D7)."""

from __future__ import annotations

from typing import NoReturn

import orjson

from src.translation.anthropic_common import ANTHROPIC_REASONING_FORMAT
from src.translation.tool_names import ToolNames, safe_identifier
from src.wire.errors import InvalidRequest


def fail(message: str, param: str) -> NoReturn:
    raise InvalidRequest(f"{param}: {message}", param=param)


def block_type(block: object, at: str) -> str:
    if not isinstance(block, dict):
        fail("each content block must be an object", at)
    kind = block.get("type")
    if not isinstance(kind, str) or not kind:
        fail("a content block needs a `type`", f"{at}.type")
    return kind


def blocks_of(content: object, at: str) -> list:
    """Message content as a list of blocks; a plain string is one text block."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if isinstance(content, list):
        return content
    fail("must be a string or an array of content blocks", at)


def joined(parts: list[dict]) -> str | list[dict]:
    """String content when every part is plain text, which every OpenAI-compatible server accepts.

    Parts that are not text, or that carry a kept `cache_control`, need the array form.
    """
    if all(part["type"] == "text" and "cache_control" not in part for part in parts):
        return "\n".join(part["text"] for part in parts)
    return parts


def text_part(block: dict, at: str, keep_cache_control: bool) -> dict | None:
    """A text part, or None for an empty one: Anthropic rejects those if they are sent back (D7.3)."""
    text = block.get("text")
    if not isinstance(text, str):
        fail("a text block needs a string `text`", f"{at}.text")
    if not text.strip():
        return None
    part = {"type": "text", "text": text}
    if keep_cache_control and isinstance(block.get("cache_control"), dict):
        part["cache_control"] = block["cache_control"]
    return part


def image_part(block: dict, at: str) -> dict:
    """D1/D7.4: a base64 source becomes a `data:` URL, a URL source stays a URL."""
    source = _source(block, at)
    kind = source.get("type")
    if kind == "base64":
        media_type = _string(source, "media_type", f"{at}.source")
        data = _string(source, "data", f"{at}.source")
        return {"type": "image_url", "image_url": {"url": f"data:{media_type};base64,{data}"}}
    if kind == "url":
        return {"type": "image_url", "image_url": {"url": _string(source, "url", f"{at}.source")}}
    fail(f"image source type {kind!r} is not supported (use base64 or url)", f"{at}.source.type")


def document_parts(block: dict, at: str) -> list[dict]:
    """A document as OpenRouter `file` parts (PDF data or URL) or, for plain text, a text part."""
    source = _source(block, at)
    kind = source.get("type")
    if kind == "text":
        data = _string(source, "data", f"{at}.source")
        return [{"type": "text", "text": data}] if data.strip() else []
    title = block.get("title")
    filename = title if isinstance(title, str) and title else "document.pdf"
    if kind == "base64":
        media_type = source.get("media_type") or "application/pdf"
        data = _string(source, "data", f"{at}.source")
        url = f"data:{media_type};base64,{data}"
    elif kind == "url":
        url = _string(source, "url", f"{at}.source")
    else:
        fail(f"document source type {kind!r} is not supported (use base64, url or text)", f"{at}.source.type")
    return [{"type": "file", "file": {"filename": filename, "file_data": url}}]


def user_turn(blocks: list, at: str, keep_cache_control: bool) -> list[dict]:
    """One Anthropic user message as OpenAI messages: its tool results first, then the rest (D7.1).

    Tool messages can only hold text, so images and documents a tool returned travel in the
    user message that follows them, ahead of the user's own content.
    """
    tool_messages: list[dict] = []
    attachments: list[dict] = []
    parts: list[dict] = []
    for j, block in enumerate(blocks):
        where = f"{at}.{j}"
        kind = block_type(block, where)
        if kind == "tool_result":
            message, moved = _tool_result(block, where, keep_cache_control)
            tool_messages.append(message)
            attachments.extend(moved)
        elif kind == "text":
            if part := text_part(block, where, keep_cache_control):
                parts.append(part)
        elif kind == "image":
            parts.append(image_part(block, where))
        elif kind == "document":
            parts.extend(document_parts(block, where))
        elif kind in ("tool_use", "thinking", "redacted_thinking"):
            fail(f"a user message cannot hold a {kind} block", f"{where}.type")
        else:
            _unknown(kind, where)
    content = attachments + parts
    return tool_messages + ([{"role": "user", "content": joined(content)}] if content else [])


def assistant_turn(blocks: list, at: str, names: ToolNames, keep_cache_control: bool) -> list[dict]:
    """One Anthropic assistant message as one OpenAI assistant message, or none if nothing is left."""
    parts: list[dict] = []
    calls: list[dict] = []
    reasoning: list[dict] = []
    for j, block in enumerate(blocks):
        where = f"{at}.{j}"
        kind = block_type(block, where)
        if kind == "text":
            if part := text_part(block, where, keep_cache_control):
                parts.append(part)
        elif kind == "tool_use":
            calls.append(_tool_call(block, where, names))
        elif kind in ("thinking", "redacted_thinking"):
            if item := _reasoning_item(block, kind, where, len(reasoning)):
                reasoning.append(item)
        elif kind in ("tool_result", "image", "document"):
            fail(f"an assistant message cannot hold a {kind} block", f"{where}.type")
        else:
            _unknown(kind, where)
    if not parts and not calls:
        return []  # D7.3: thinking alone, or only empty text, is not a message an upstream accepts
    # D7.3: an assistant message with only tool calls has null content.
    message: dict = {"role": "assistant", "content": joined(parts) if parts else None}
    if calls:
        message["tool_calls"] = calls
    if reasoning:
        message["reasoning_details"] = reasoning
    return [message]


def _tool_result(block: dict, at: str, keep_cache_control: bool) -> tuple[dict, list[dict]]:
    call_id = block.get("tool_use_id")
    if not isinstance(call_id, str) or not call_id:
        fail("a tool_result block needs a string `tool_use_id`", f"{at}.tool_use_id")
    content = block.get("content")
    texts: list[dict] = []
    moved: list[dict] = []
    if isinstance(content, str):
        if content:
            texts.append({"type": "text", "text": content})
    elif isinstance(content, list):
        for k, item in enumerate(content):
            where = f"{at}.content.{k}"
            kind = block_type(item, where)
            if kind == "text":
                if part := text_part(item, where, keep_cache_control):
                    texts.append(part)
            elif kind == "image":
                moved.append(image_part(item, where))
            elif kind == "document":
                for part in document_parts(item, where):
                    (texts if part["type"] == "text" else moved).append(part)
            else:
                fail(f"a tool_result cannot hold a {kind} block", f"{where}.type")
    elif content is not None:
        fail("must be a string or an array of content blocks", f"{at}.content")
    if moved:
        texts.append(
            {"type": "text", "text": f"[{len(moved)} attachment(s) from this tool follow in the next message]"}
        )
    if block.get("is_error") is True:
        # D1: OpenAI has no error flag on tool messages, so the model is told in the text.
        texts = (
            [{**texts[0], "text": f"Error: {texts[0]['text']}"}, *texts[1:]]
            if texts
            else [{"type": "text", "text": "Error"}]
        )
    if keep_cache_control and isinstance(block.get("cache_control"), dict) and texts:
        texts[-1] = {**texts[-1], "cache_control": block["cache_control"]}
    message = {"role": "tool", "tool_call_id": safe_identifier(call_id), "content": joined(texts) if texts else ""}
    return message, moved


def _tool_call(block: dict, at: str, names: ToolNames) -> dict:
    call_id = _string(block, "id", at)
    name = _string(block, "name", at)
    arguments = block.get("input")
    if not isinstance(arguments, dict):
        fail("a tool_use block's `input` must be an object", f"{at}.input")
    try:
        encoded = orjson.dumps(arguments).decode()
    except orjson.JSONEncodeError as error:
        fail(f"cannot be encoded as JSON ({error})", f"{at}.input")
    return {
        "id": safe_identifier(call_id),
        "type": "function",
        "function": {"name": names.upstream(name), "arguments": encoded},
    }


def _reasoning_item(block: dict, kind: str, at: str, index: int) -> dict | None:
    """Signed or redacted thinking as an OpenRouter `reasoning_details` item (D1, D7.7).

    The signature is what lets Claude continue a tool-use turn after thinking, so signed and
    redacted blocks are carried. Unsigned thinking (what a non-Anthropic model's reasoning
    becomes on the way out) cannot be verified by anyone and is dropped, as gateways do.
    """
    if kind == "redacted_thinking":
        data = _string(block, "data", at)
        return {"type": "reasoning.encrypted", "data": data, "format": ANTHROPIC_REASONING_FORMAT, "index": index}
    text = block.get("thinking", "")
    signature = block.get("signature", "")
    if not isinstance(text, str) or not isinstance(signature, str):
        fail("a thinking block needs string `thinking` and `signature`", at)
    if not signature:
        return None
    return {
        "type": "reasoning.text",
        "text": text,
        "signature": signature,
        "format": ANTHROPIC_REASONING_FORMAT,
        "index": index,
    }


def _source(block: dict, at: str) -> dict:
    source = block.get("source")
    if not isinstance(source, dict):
        fail("needs a `source` object", f"{at}.source")
    return source


def _string(container: dict, key: str, at: str) -> str:
    value = container.get(key)
    if not isinstance(value, str) or not value:
        fail(f"`{key}` must be a non-empty string", f"{at}.{key}")
    return value


def _unknown(kind: str, at: str) -> NoReturn:
    # Server-tool blocks (server_tool_use, web_search_tool_result, ...) land here too: a
    # chat-completions upstream never produced them, so there is nothing faithful to send.
    fail(f"content block type {kind!r} is not supported by this endpoint", f"{at}.type")
