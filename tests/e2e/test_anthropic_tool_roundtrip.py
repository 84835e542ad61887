"""A tool-use round trip with the SDK over a translated route: tool_use out, tool_result back in."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest
from anthropic.types import ContentBlockParam, Message, MessageParam, ToolParam

from src.config import Config
from tests.e2e.anthropic_helpers import (
    local_config,
    sdk,
)
from tests.fakes.proxy import RunningProxy
from tests.fakes.scripted import ScriptedUpstream, Step, chunk, completion, usage_chunk

StartProxy = Callable[[Config], RunningProxy]
TOOLS: list[ToolParam] = [
    {"name": "get_weather", "description": "Weather in a city",
     "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}},
    {"name": "get_time", "description": "Time in a zone",
     "input_schema": {"type": "object", "properties": {"tz": {"type": "string"}}}},
]
CLAUDE = "anthropic/claude-sonnet-4"  # on an `openai` backend: translated, with signed reasoning
QUESTION: list[MessageParam] = [{"role": "user", "content": "Weather and time in Paris?"}]
CALLS = [
    {"id": "call_w", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
    {"id": "call_t", "type": "function", "function": {"name": "get_time", "arguments": '{"tz": "Europe/Paris"}'}},
]


@pytest.fixture
def proxy(scripted: ScriptedUpstream, start_proxy: StartProxy) -> RunningProxy:
    return start_proxy(local_config(scripted.base_url))


def _tool_call_step(stream: bool) -> Step:
    if not stream:
        answer = completion("m", {"role": "assistant", "content": "I'll check both.", "tool_calls": CALLS})
        answer["choices"][0]["finish_reason"] = "tool_calls"
        return Step(completion=answer)
    calls = [{"index": i, **call} for i, call in enumerate(CALLS)]
    return Step(events=[
        chunk("m", {"role": "assistant", "content": "", "reasoning": "Two tools, in parallel."}),
        chunk("m", {"content": "I'll check both."}),
        *(chunk("m", {"tool_calls": [call]}) for call in calls),
        chunk("m", {}, "tool_calls"), usage_chunk("m"), "data: [DONE]",
    ])


def _ask(proxy: RunningProxy, messages: Iterable[MessageParam], stream: bool) -> Any:
    client = sdk(proxy)
    if stream:
        with client.messages.stream(model="m", max_tokens=256, messages=messages, tools=TOOLS) as events:
            return events.get_final_message()
    return client.messages.create(model="m", max_tokens=256, messages=messages, tools=TOOLS)


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_parallel_tool_calls_and_their_results_survive_a_round_trip(proxy: RunningProxy,
                                                                    scripted: ScriptedUpstream, stream: bool) -> None:
    scripted.script("m", _tool_call_step(stream))

    first = _ask(proxy, QUESTION, stream)
    uses = [b for b in first.content if b.type == "tool_use"]
    assert first.stop_reason == "tool_use"
    assert [(u.id, u.name, u.input) for u in uses] == [
        ("call_w", "get_weather", {"city": "Paris"}), ("call_t", "get_time", {"tz": "Europe/Paris"})]

    results: list[ContentBlockParam] = [
        {"type": "tool_result", "tool_use_id": "call_w", "content": "18 C and sunny"},
        {"type": "tool_result", "tool_use_id": "call_t", "content": [{"type": "text", "text": "14:05"}]},
        {"type": "text", "text": "Be quick."},
    ]
    replayed: Any = [b.model_dump(exclude_none=True) for b in first.content]  # the blocks as the SDK gave them
    history: list[MessageParam] = [*QUESTION, {"role": "assistant", "content": replayed}, {"role": "user", "content": results}]
    second = _ask(proxy, history, stream)

    assert [b.type for b in second.content] == ["text"] and second.content[0].text == "Hello from m"
    sent = scripted.requests[1].body["messages"]
    assert sent[0] == {"role": "user", "content": "Weather and time in Paris?"}
    assert sent[1]["role"] == "assistant" and sent[1]["content"] == "I'll check both."
    assert [(c["id"], c["function"]["name"]) for c in sent[1]["tool_calls"]] == [
        ("call_w", "get_weather"), ("call_t", "get_time")]
    assert [c["function"]["arguments"] for c in sent[1]["tool_calls"]] == ['{"city":"Paris"}', '{"tz":"Europe/Paris"}']
    assert "reasoning_details" not in sent[1]  # unsigned thinking is not sent back
    assert sent[2:] == [  # the tool messages first, in order, then the rest of the user's turn
        {"role": "tool", "tool_call_id": "call_w", "content": "18 C and sunny"},
        {"role": "tool", "tool_call_id": "call_t", "content": "14:05"},
        {"role": "user", "content": "Be quick."},
    ]


def test_a_failed_tool_result_is_marked_as_an_error_for_the_model(proxy: RunningProxy,
                                                                  scripted: ScriptedUpstream) -> None:
    history: list[MessageParam] = [
        *QUESTION,
        {"role": "assistant", "content": [{"type": "tool_use", "id": "call_w", "name": "get_weather",
                                           "input": {"city": "Paris"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_w", "is_error": True,
                                      "content": "service unavailable"}]},
    ]

    _ask(proxy, history, stream=False)

    sent = scripted.requests[0].body["messages"]
    assert sent[1] == {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_w", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}]}
    assert sent[2] == {"role": "tool", "tool_call_id": "call_w", "content": "Error: service unavailable"}


def test_a_tool_result_image_follows_the_tool_message_as_user_content(proxy: RunningProxy,
                                                                      scripted: ScriptedUpstream) -> None:
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    history: list[MessageParam] = [
        *QUESTION,
        {"role": "assistant", "content": [{"type": "tool_use", "id": "call_s", "name": "get_weather", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_s", "content": [
            {"type": "text", "text": "a chart"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png}}]}]},
    ]

    _ask(proxy, history, stream=False)

    sent = scripted.requests[0].body["messages"]
    assert sent[2]["role"] == "tool" and sent[2]["tool_call_id"] == "call_s"
    assert sent[2]["content"].startswith("a chart")
    assert sent[3] == {"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}}]}


def _signed_step(stream: bool) -> Step:
    """A Claude model behind a chat-completions upstream: signed reasoning (OpenRouter's
    reasoning_details), then one tool call."""
    detail = {"type": "reasoning.text", "format": "anthropic-claude-v1", "index": 0}
    call = {"id": "call_w", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
    if not stream:
        message = {"role": "assistant", "content": None, "reasoning": "Need the tool.", "tool_calls": [call],
                   "reasoning_details": [{**detail, "text": "Need the tool.", "signature": "sig-123"}]}
        answer = completion(CLAUDE, message)
        answer["choices"][0]["finish_reason"] = "tool_calls"
        return Step(completion=answer)
    return Step(events=[
        chunk(CLAUDE, {"role": "assistant", "reasoning": "Need the tool.",
                       "reasoning_details": [{**detail, "text": "Need the tool."}]}),
        chunk(CLAUDE, {"reasoning_details": [{**detail, "signature": "sig-123"}]}),
        chunk(CLAUDE, {"tool_calls": [{"index": 0, **call}]}),
        chunk(CLAUDE, {}, "tool_calls"), usage_chunk(CLAUDE), "data: [DONE]",
    ])


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_a_signed_thinking_block_survives_a_translated_round_trip(proxy: RunningProxy, scripted: ScriptedUpstream,
                                                                  stream: bool) -> None:
    scripted.script(CLAUDE, _signed_step(stream))
    client = sdk(proxy)
    ask: dict[str, Any] = {"model": CLAUDE, "max_tokens": 256, "tools": TOOLS,
                           "thinking": {"type": "enabled", "budget_tokens": 1024}}
    first: Message
    if stream:
        with client.messages.stream(messages=QUESTION, **ask) as events:
            first = events.get_final_message()
    else:
        first = client.messages.create(messages=QUESTION, **ask)

    assert [(b.type, getattr(b, "signature", None)) for b in first.content] == [
        ("thinking", "sig-123"), ("tool_use", None)]
    assert first.content[0].thinking == "Need the tool."  # type: ignore[union-attr]

    replayed: Any = [b.model_dump(exclude_none=True) for b in first.content]  # the blocks as the SDK gave them
    history: list[MessageParam] = [
        *QUESTION,
        {"role": "assistant", "content": replayed},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_w", "content": "18 C"}]},
    ]
    client.messages.create(messages=history, **ask)

    assistant = scripted.requests[1].body["messages"][1]
    assert assistant["reasoning_details"] == [{"type": "reasoning.text", "text": "Need the tool.", "signature": "sig-123",
                                               "format": "anthropic-claude-v1", "index": 0}]
    assert [c["id"] for c in assistant["tool_calls"]] == ["call_w"]
