"""The translated stream as the Anthropic SDK itself reads it: SSE decoding plus message accumulation."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import pytest

from src.translation.anthropic_request import messages_to_chat
from src.translation.anthropic_stream import StreamTranslator
from tests.translation.stream_helpers import chunk, finish, reasoning, text, tool, usage

anthropic = pytest.importorskip("anthropic")

LONG_TOOL = "mcp__browser__" + "take_full_page_screenshot_" * 3


def sdk_http() -> ModuleType:
    """The HTTP package this SDK version is built on: httpx, or httpx2 in newer releases."""
    base_client = importlib.import_module("anthropic._base_client")
    return getattr(base_client, "httpx2", None) or base_client.httpx


def sdk_final_message(body: bytes) -> Any:
    """The SDK's accumulated Message; Any, as its content blocks are read by the type the stream gave them."""
    http = sdk_http()

    def handler(request: object) -> object:
        return http.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    client = anthropic.Anthropic(
        api_key="test", base_url="http://proxy.test", http_client=http.Client(transport=http.MockTransport(handler))
    )
    with client.messages.stream(
        model="test-model", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        return stream.get_final_message()


def test_sdk_accumulates_thinking_text_and_parallel_tool_calls() -> None:
    request = {
        "model": "openai/gpt-4o",
        "max_tokens": 64,
        "stream": True,
        "messages": [{"role": "user", "content": "go"}],
        "tools": [
            {"name": LONG_TOOL, "input_schema": {"type": "object"}},
            {"name": "ls", "input_schema": {"type": "object"}},
        ],
    }
    chat, tool_names = messages_to_chat(request)
    sent = chat["tools"][0]["function"]["name"]
    translator = StreamTranslator("claude-sonnet-4-5", tool_names)
    upstream = [
        chunk({"role": "assistant", "content": ""}),
        reasoning("Two tools "),
        reasoning("at once."),
        chunk({"reasoning_details": [{"type": "reasoning.text", "signature": "SIG==", "format": "anthropic-claude-v1"}]}),
        text("Working"),
        text(" on it."),
        tool(0, "call_a", sent, '{"full'),
        tool(0, arguments='_page": true}'),
        tool(1, "call_b", "ls", ""),
        tool(1, arguments='{"path": "/tmp"}'),
        finish("tool_calls"),
        usage(200, 30, cached=150, written=20),
    ]
    events = [translator.ping()]
    for item in upstream:
        events.extend(translator.feed(item))
    events.extend(translator.finish())

    message = sdk_final_message(b"".join(events))

    assert message.id == "msg_gen-1"
    assert message.model == "claude-sonnet-4-5"
    assert message.stop_reason == "tool_use"
    assert [block.type for block in message.content] == ["thinking", "text", "tool_use", "tool_use"]
    assert (message.content[0].thinking, message.content[0].signature) == ("Two tools at once.", "SIG==")
    assert message.content[1].text == "Working on it."
    assert (message.content[2].id, message.content[2].name, message.content[2].input) == (
        "call_a",
        LONG_TOOL,
        {"full_page": True},
    )
    assert (message.content[3].id, message.content[3].name, message.content[3].input) == (
        "call_b",
        "ls",
        {"path": "/tmp"},
    )
    assert message.usage.output_tokens == 30
    assert message.usage.input_tokens == 30
    assert message.usage.cache_read_input_tokens == 150
    assert message.usage.cache_creation_input_tokens == 20


def test_sdk_raises_on_the_error_event() -> None:
    translator = StreamTranslator("claude-sonnet-4-5", messages_to_chat({"messages": []})[1])
    events = translator.feed(text("partial"))
    events.append(translator.error("overloaded_error", "Upstream overloaded"))
    with pytest.raises(anthropic.APIStatusError, match="Upstream overloaded"):
        sdk_final_message(b"".join(events))
