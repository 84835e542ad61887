"""Shared by the messages_to_chat tests: Anthropic request bodies and content blocks, built briefly."""

from __future__ import annotations

from src.translation.anthropic_request import messages_to_chat

LONG_TOOL = "mcp__filesystem__" + "read_multiple_files_with_metadata_" * 3


def chat_of(**body: object) -> dict:
    body.setdefault("model", "openai/gpt-4o")
    body.setdefault("max_tokens", 256)
    chat, _ = messages_to_chat(body)
    return chat


def messages_of(messages: list, **body: object) -> list[dict]:
    return chat_of(messages=messages, **body)["messages"]


def user(content: object) -> dict:
    return {"role": "user", "content": content}


def assistant(content: object) -> dict:
    return {"role": "assistant", "content": content}


def text(value: str, **extra: object) -> dict:
    return {"type": "text", "text": value, **extra}


def tool_use(call_id: str, name: str, arguments: dict) -> dict:
    return {"type": "tool_use", "id": call_id, "name": name, "input": arguments}


def tool_result(call_id: str, content: object = "ok", **extra: object) -> dict:
    return {"type": "tool_result", "tool_use_id": call_id, "content": content, **extra}


def image_b64(data: str = "iVBORw0KGgo=", media_type: str = "image/png") -> dict:
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}


def image_url(url: str) -> dict:
    return {"type": "image", "source": {"type": "url", "url": url}}


CACHE = {"type": "ephemeral"}
