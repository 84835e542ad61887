"""Shared by the stream tests: OpenAI chunks as an upstream sends them, Anthropic events as parsed."""

from __future__ import annotations

import orjson


def chunk(
    delta: dict | None = None, finish_reason: str | None = None, choice: dict | None = None, **extra: object
) -> dict:
    choice = {"index": 0, "delta": delta or {}, "finish_reason": finish_reason, **(choice or {})}
    return {"id": "gen-1", "object": "chat.completion.chunk", "model": "openai/gpt-4o", "choices": [choice], **extra}


def text(value: str) -> dict:
    return chunk({"content": value})


def reasoning(value: str) -> dict:
    return chunk({"reasoning": value})


def tool(index: int, call_id: str | None = None, name: str | None = None, arguments: str = "") -> dict:
    function: dict = {"arguments": arguments}
    call: dict = {"index": index, "function": function}
    if call_id is not None:
        call.update(id=call_id, type="function")
    if name is not None:
        function["name"] = name
    return chunk({"tool_calls": [call]})


def finish(reason: str = "stop", **choice: object) -> dict:
    return chunk({}, reason, choice)


def usage(prompt: int = 50, completion: int = 12, cached: int = 0, written: int = 0) -> dict:
    details = {"cached_tokens": cached, "cache_write_tokens": written}
    return {
        "id": "gen-1",
        "object": "chat.completion.chunk",
        "choices": [],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "prompt_tokens_details": details},
    }


def parse(events: list[bytes]) -> list[tuple[str, dict]]:
    """(event name, data) for each event, checking the exact SSE framing and that name == data.type."""
    parsed = []
    for event in events:
        assert event.endswith(b"\n\n"), event
        name_line, data_line = event[:-2].split(b"\n")
        assert name_line.startswith(b"event: ") and data_line.startswith(b"data: "), event
        name = name_line.removeprefix(b"event: ").decode()
        data = orjson.loads(data_line.removeprefix(b"data: "))
        assert data["type"] == name
        parsed.append((name, data))
    return parsed


def names(events: list[bytes]) -> list[str]:
    return [name for name, _ in parse(events)]
