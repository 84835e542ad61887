"""messages_to_chat: top-level fields (thinking, sampling, stream, unknown keys) and leaving the body intact."""

from __future__ import annotations

import orjson
import pytest

from src.translation.anthropic_request import messages_to_chat
from tests.translation.anthropic_request_helpers import (
    CACHE,
    LONG_TOOL,
    assistant,
    chat_of,
    text,
    tool_result,
    tool_use,
    user,
)


@pytest.mark.parametrize(
    ("thinking", "expected"),
    [
        ({"type": "enabled", "budget_tokens": 2048}, {"max_tokens": 2048}),
        ({"type": "adaptive"}, {"enabled": True}),
        ({"type": "disabled"}, None),
    ],
)
def test_thinking_config(thinking: dict, expected: dict | None) -> None:
    assert chat_of(messages=[user("x")], thinking=thinking).get("reasoning") == expected


def test_scalar_fields() -> None:
    chat = chat_of(
        model="openai/gpt-4o",
        max_tokens=1024,
        temperature=0.3,
        top_p=0.9,
        top_k=40,
        stop_sequences=["END", "STOP"],
        metadata={"user_id": "user-42", "other": "x"},
        messages=[user("x")],
    )
    assert chat == {
        "model": "openai/gpt-4o",
        "messages": [{"role": "user", "content": "x"}],
        "max_tokens": 1024,
        "temperature": 0.3,
        "top_p": 0.9,
        "top_k": 40,
        "stop": ["END", "STOP"],
        "user": "user-42",
    }


@pytest.mark.parametrize(
    ("stream", "expected"),
    [
        (True, {"stream": True, "stream_options": {"include_usage": True}}),
        (False, {"stream": False}),
        (None, {}),
    ],
)
def test_stream(stream: bool | None, expected: dict) -> None:
    chat = chat_of(messages=[user("x")], stream=stream)
    assert {k: chat[k] for k in ("stream", "stream_options") if k in chat} == expected


def test_unknown_and_untranslatable_top_level_fields_are_dropped() -> None:
    chat = chat_of(
        messages=[user("x")],
        service_tier="standard_only",
        container="c1",
        inference_geo="us",
        mcp_servers=[{"url": "x"}],
        context_management={"edits": []},
        output_config={"effort": "high"},
        speed="fast",
        cache_control=CACHE,
        something_new=1,
        provider={"order": ["OpenAI"]},
        models=["a", "b"],
    )
    assert set(chat) == {"model", "max_tokens", "messages", "provider", "models"}
    assert chat["provider"] == {"order": ["OpenAI"]}


def test_top_level_cache_control_kept_for_claude() -> None:
    assert (
        chat_of(model="anthropic/claude-sonnet-4", messages=[user("x")], cache_control=CACHE)["cache_control"] == CACHE
    )


def test_input_body_is_not_mutated() -> None:
    body = {
        "model": "m",
        "max_tokens": 5,
        "system": [text("s")],
        "messages": [assistant([tool_use("t", LONG_TOOL, {"a": 1})]), user([tool_result("t", "r", is_error=True)])],
        "tools": [{"name": LONG_TOOL, "input_schema": {"type": "object"}}],
    }
    before = orjson.dumps(body)
    messages_to_chat(body)
    assert orjson.dumps(body) == before
