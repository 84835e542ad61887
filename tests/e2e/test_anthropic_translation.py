"""Non-native routes: the Messages request as the chat-completions body the upstream received, and the
completion back as an Anthropic message (non-streaming; streams are in test_anthropic_streaming.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anthropic
import pytest
from anthropic.types import CacheControlEphemeralParam, ThinkingConfigParam, ToolChoiceParam, ToolParam

from src.config import Config
from tests.e2e.anthropic_helpers import (
    USER,
    local_config,
    sdk,
)
from tests.fakes.proxy import RunningProxy
from tests.fakes.scripted import ScriptedUpstream, Step, completion

StartProxy = Callable[[Config], RunningProxy]
WEATHER: ToolParam = {"name": "get_weather", "description": "The weather in a city",
                     "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


@pytest.fixture
def proxy(scripted: ScriptedUpstream, start_proxy: StartProxy) -> RunningProxy:
    return start_proxy(local_config(scripted.base_url))


def test_every_request_field_maps_to_its_chat_completions_field(proxy: RunningProxy, scripted: ScriptedUpstream) -> None:
    sdk(proxy).messages.create(
        model="qwen/qwen3-coder",
        max_tokens=100,
        system=[{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Be kind.", "cache_control": {"type": "ephemeral"}}],
        messages=[
            {"role": "user", "content": "What's the weather in Paris?"},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Let me check."},
                {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}},
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01", "content": "18 C, sunny"},
                {"type": "text", "text": "And tomorrow?"},
            ]},
        ],
        tools=[WEATHER],
        tool_choice={"type": "any", "disable_parallel_tool_use": True},
        stop_sequences=["END", "STOP"],
        metadata={"user_id": "user-42"},
        thinking={"type": "enabled", "budget_tokens": 1024},
        extra_body={"temperature": 0.5, "top_p": 0.9, "top_k": 20},
    )

    body = scripted.requests[0].body
    assert body["messages"] == [
        {"role": "system", "content": "Be brief.\nBe kind."},  # cache_control dropped: not a Claude model
        {"role": "user", "content": "What's the weather in Paris?"},
        {"role": "assistant", "content": "Let me check.", "tool_calls": [
            {"id": "toolu_01", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
        ]},
        {"role": "tool", "tool_call_id": "toolu_01", "content": "18 C, sunny"},
        {"role": "user", "content": "And tomorrow?"},
    ]
    assert body["tools"] == [{"type": "function", "function": {
        "name": "get_weather", "description": "The weather in a city", "parameters": WEATHER["input_schema"]}}]
    assert body["tool_choice"] == "required" and body["parallel_tool_calls"] is False
    assert (body["max_tokens"], body["temperature"], body["top_p"], body["top_k"]) == (100, 0.5, 0.9, 20)
    assert body["stop"] == ["END", "STOP"]
    assert body["user"] == "user-42"
    assert body["reasoning"] == {"max_tokens": 1024}
    assert "stream" not in body or body["stream"] is False
    assert not {"system", "stop_sequences", "metadata", "thinking", "tool_choice_type"} & body.keys()


def test_cache_control_is_kept_for_a_claude_upstream(scripted: ScriptedUpstream, start_proxy: StartProxy) -> None:
    proxy = start_proxy(local_config(scripted.base_url))
    mark: CacheControlEphemeralParam = {"type": "ephemeral"}

    sdk(proxy).messages.create(model="anthropic/claude-sonnet-4", max_tokens=8, messages=USER,
                               system=[{"type": "text", "text": "Be brief.", "cache_control": mark}])

    assert scripted.requests[0].body["messages"][0] == {
        "role": "system", "content": [{"type": "text", "text": "Be brief.", "cache_control": mark}]}


def test_cache_control_is_dropped_when_a_claude_name_is_routed_to_another_model(
    scripted: ScriptedUpstream, start_proxy: StartProxy
) -> None:
    aliases = [{"pattern": "^claude-sonnet-.*", "replacement": "local:qwen/qwen3-coder"}]
    proxy = start_proxy(local_config(scripted.base_url, model_aliases=aliases))
    mark: CacheControlEphemeralParam = {"type": "ephemeral"}

    sdk(proxy).messages.create(model="claude-sonnet-4-6", max_tokens=8, cache_control=mark,
                               system=[{"type": "text", "text": "Be brief.", "cache_control": mark}],
                               messages=[{"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": mark}]}])

    body = scripted.requests[0].body
    assert body["model"] == "qwen/qwen3-coder"
    assert "cache_control" not in json.dumps(body)
    assert body["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]


@pytest.mark.parametrize(("tool_choice", "expected"), [
    ({"type": "auto"}, "auto"),
    ({"type": "none"}, "none"),
    ({"type": "tool", "name": "get_weather"}, {"type": "function", "function": {"name": "get_weather"}}),
])
def test_tool_choice_maps_to_the_openai_form(proxy: RunningProxy, scripted: ScriptedUpstream,
                                             tool_choice: ToolChoiceParam, expected: object) -> None:
    sdk(proxy).messages.create(model="m", max_tokens=8, messages=USER, tools=[WEATHER], tool_choice=tool_choice)

    assert scripted.requests[0].body["tool_choice"] == expected


@pytest.mark.parametrize(("thinking", "expected"), [
    ({"type": "adaptive"}, {"enabled": True}),
    ({"type": "disabled"}, None),
])
def test_other_thinking_modes(proxy: RunningProxy, scripted: ScriptedUpstream, thinking: ThinkingConfigParam,
                              expected: object) -> None:
    sdk(proxy).messages.create(model="m", max_tokens=8, messages=USER, thinking=thinking)

    assert scripted.requests[0].body.get("reasoning") == expected


def test_a_streaming_request_asks_for_usage(proxy: RunningProxy, scripted: ScriptedUpstream) -> None:
    with sdk(proxy).messages.stream(model="m", max_tokens=8, messages=USER) as stream:
        stream.until_done()

    body = scripted.requests[0].body
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


def _answer(proxy: RunningProxy, scripted: ScriptedUpstream, message: dict[str, Any], finish: str = "stop",
            usage: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    answer = completion("m", message, usage)
    answer["choices"][0]["finish_reason"] = finish
    scripted.script("m", Step(completion=answer))
    kwargs.setdefault("messages", USER)
    return sdk(proxy).messages.create(model="m", max_tokens=64, **kwargs)


def test_text_reasoning_and_usage_come_back_as_blocks(proxy: RunningProxy, scripted: ScriptedUpstream) -> None:
    usage = {"prompt_tokens": 1200, "completion_tokens": 80, "total_tokens": 1280,
             "prompt_tokens_details": {"cached_tokens": 1000}}
    message = _answer(proxy, scripted, {"role": "assistant", "content": "Four.", "reasoning": "2 + 2 is 4."},
                      usage=usage)

    assert [b.model_dump(exclude_none=True) for b in message.content] == [
        {"type": "thinking", "thinking": "2 + 2 is 4.", "signature": ""},
        {"type": "text", "text": "Four."},
    ]
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (200, 80)
    assert (message.usage.cache_read_input_tokens, message.usage.cache_creation_input_tokens) == (1000, 0)


def test_tool_calls_come_back_as_tool_use_blocks_with_parsed_input(proxy: RunningProxy,
                                                                   scripted: ScriptedUpstream) -> None:
    calls = [
        {"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
        {"id": "call_b", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}},
    ]
    message = _answer(proxy, scripted, {"role": "assistant", "content": "Checking.", "tool_calls": calls},
                      finish="tool_calls", tools=[WEATHER])

    blocks = [(b.type, getattr(b, "id", None), getattr(b, "name", None), getattr(b, "input", None))
              for b in message.content]
    assert blocks == [
        ("text", None, None, None),
        ("tool_use", "call_a", "get_weather", {"city": "Paris"}),
        ("tool_use", "call_b", "get_weather", {"city": "Oslo"}),
    ]
    assert message.content[0].text == "Checking."
    assert message.stop_reason == "tool_use"


def test_a_tool_name_no_upstream_accepts_is_rewritten_and_restored(proxy: RunningProxy,
                                                                   scripted: ScriptedUpstream) -> None:
    tool: ToolParam = {**WEATHER, "name": "weather.lookup v2"}
    sdk(proxy).messages.create(model="m", max_tokens=8, messages=USER, tools=[tool])
    sent = scripted.requests[0].body["tools"][0]["function"]["name"]
    call = {"id": "call_x", "type": "function", "function": {"name": sent, "arguments": '{"city": "Rome"}'}}

    message = _answer(proxy, scripted, {"role": "assistant", "content": None, "tool_calls": [call]},
                      finish="tool_calls", tools=[tool])

    assert sent != "weather.lookup v2" and all(c.isalnum() or c in "_-" for c in sent)
    assert [(b.type, b.name, b.input) for b in message.content] == [("tool_use", "weather.lookup v2", {"city": "Rome"})]


@pytest.mark.parametrize(("finish", "extra", "expected"), [
    ("stop", {}, ("end_turn", None)),
    ("length", {}, ("max_tokens", None)),
    ("stop", {"stop_reason": "END"}, ("stop_sequence", "END")),
    ("content_filter", {}, ("refusal", None)),
])
def test_finish_reason_becomes_stop_reason(proxy: RunningProxy, scripted: ScriptedUpstream, finish: str,
                                           extra: dict[str, Any], expected: tuple[str, str | None]) -> None:
    answer = completion("m", {"role": "assistant", "content": "Some text"})
    answer["choices"][0].update(finish_reason=finish, **extra)
    scripted.script("m", Step(completion=answer))

    message = sdk(proxy).messages.create(model="m", max_tokens=64, messages=USER, stop_sequences=["END"])

    assert (message.stop_reason, message.stop_sequence) == expected


def test_an_error_inside_a_200_is_an_anthropic_error(proxy: RunningProxy, scripted: ScriptedUpstream) -> None:
    scripted.script("m", Step(completion={"error": {"code": 429, "message": "upstream provider is rate limited"}}))

    with pytest.raises(anthropic.RateLimitError) as caught:
        sdk(proxy).messages.create(model="m", max_tokens=8, messages=USER)

    assert caught.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
    assert "rate limited" in caught.value.body["error"]["message"]  # type: ignore[index]
