"""Shared by the streaming tests: SSE events as an OpenAI-compatible upstream sends them."""

from __future__ import annotations

import orjson


def data(payload: object) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def delta(text: str) -> bytes:
    return data({"id": "gen-1", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": text}}]})


# OpenRouter's mid-stream error: a chunk with a top-level `error` and finish_reason "error".
OPENROUTER_ERROR = data(
    {
        "id": "gen-1",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "openai/gpt-4o",
        "provider": "OpenAI",
        "error": {"code": "server_error", "message": "Provider disconnected unexpectedly"},
        "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}],
    }
)
