"""Shared by the StreamTranslator tests: run a chunk list through it and read back what a client sees."""

from __future__ import annotations

from collections.abc import Sequence

from src.translation.anthropic_stream import StreamTranslator
from src.translation.tool_names import ToolNames
from tests.translation.stream_helpers import parse

MODEL = "claude-sonnet-4-5"


def run(chunks: list[dict], tool_names: ToolNames | None = None, stop_sequences: Sequence[str] = ()) -> list[bytes]:
    translator = StreamTranslator(MODEL, tool_names or ToolNames(), stop_sequences=stop_sequences)
    events: list[bytes] = []
    for item in chunks:
        events.extend(translator.feed(item))
    events.extend(translator.finish())
    return events


def blocks(events: list[bytes]) -> list[dict]:
    """The content blocks a client accumulates, by index (tool input as the joined JSON text)."""
    content: dict[int, dict] = {}
    for name, data in parse(events):
        if name == "content_block_start":
            assert data["index"] not in content
            content[data["index"]] = dict(data["content_block"])
        elif name == "content_block_delta":
            block, delta = content[data["index"]], data["delta"]
            key = {
                "text_delta": "text",
                "thinking_delta": "thinking",
                "signature_delta": "signature",
                "input_json_delta": "json",
            }[delta["type"]]
            value = delta.get("partial_json") if key == "json" else delta[key]
            block[key] = block.get(key, "") + value
    return [content[i] for i in sorted(content)]


def final_delta(events: list[bytes]) -> dict:
    return next(data for name, data in parse(events) if name == "message_delta")
