"""Translated streams: a chat-completions stream becomes Anthropic's event stream, which the SDK accumulates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anthropic
import pytest

from src.config import Config
from tests.e2e.anthropic_helpers import (
    USER,
    local_config,
    make_config,
    openai_backend,
    post,
    sdk,
    sse_events,
)
from tests.fakes.proxy import RunningProxy
from tests.fakes.scripted import Event, ScriptedUpstream, Step, chunk, error_event, reasoning_events, usage_chunk

StartProxy = Callable[[Config], RunningProxy]
TOOLS = [{"name": n, "input_schema": {"type": "object"}} for n in ("get_weather", "get_time")]
# Two parallel tool calls whose argument fragments interleave (OpenAI streams index by index,
# but some providers do not), after a little text.
INTERLEAVED: list[Event] = [
    chunk("m", {"role": "assistant", "content": "Let me look."}),
    chunk("m", {"tool_calls": [{"index": 0, "id": "call_a", "type": "function",
                                "function": {"name": "get_weather", "arguments": ""}}]}),
    chunk("m", {"tool_calls": [{"index": 0, "function": {"arguments": '{"city": "Pa'}}]}),
    chunk("m", {"tool_calls": [{"index": 1, "id": "call_b", "type": "function",
                                "function": {"name": "get_time", "arguments": '{"tz":'}}]}),
    chunk("m", {"tool_calls": [{"index": 0, "function": {"arguments": 'ris"}'}}]}),
    chunk("m", {"tool_calls": [{"index": 1, "function": {"arguments": ' "Europe/Paris"}'}}]}),
    chunk("m", {}, "tool_calls"),
    usage_chunk("m", {"prompt_tokens": 50, "completion_tokens": 30, "total_tokens": 80,
                      "prompt_tokens_details": {"cached_tokens": 20}}),
    "data: [DONE]",
]
SEQUENTIAL = [INTERLEAVED[i] for i in (0, 1, 2, 4, 3, 5, 6, 7, 8)]


@pytest.fixture
def proxy(scripted: ScriptedUpstream, start_proxy: StartProxy) -> RunningProxy:
    return start_proxy(local_config(scripted.base_url, failover={"max_attempts": 1}))


def _final(proxy: RunningProxy, **kwargs: Any) -> anthropic.types.Message:
    kwargs.setdefault("messages", USER)
    with sdk(proxy).messages.stream(model="m", max_tokens=256, **kwargs) as stream:
        return stream.get_final_message()


def test_reasoning_deltas_become_a_thinking_block_before_the_text(proxy: RunningProxy,
                                                                  scripted: ScriptedUpstream) -> None:
    scripted.script("m", Step(events=reasoning_events("m", "Two and two make four.", "Four.")))

    message = _final(proxy, thinking={"type": "enabled", "budget_tokens": 1024})

    assert [b.type for b in message.content] == ["thinking", "text"]
    assert message.content[0].thinking == "Two and two make four."  # type: ignore[union-attr]
    assert message.content[1].text == "Four."  # type: ignore[union-attr]
    assert message.stop_reason == "end_turn"
    assert scripted.requests[0].body["reasoning"] == {"max_tokens": 1024}


@pytest.mark.parametrize("events", [SEQUENTIAL, INTERLEAVED], ids=["sequential", "interleaved"])
def test_parallel_tool_calls_accumulate_into_tool_use_blocks(proxy: RunningProxy, scripted: ScriptedUpstream,
                                                            events: list[Any]) -> None:
    scripted.script("m", Step(events=events))

    message = _final(proxy, tools=TOOLS)

    blocks = [(b.type, getattr(b, "id", None), getattr(b, "name", None), getattr(b, "input", None))
              for b in message.content]
    assert blocks == [
        ("text", None, None, None),
        ("tool_use", "call_a", "get_weather", {"city": "Paris"}),
        ("tool_use", "call_b", "get_time", {"tz": "Europe/Paris"}),
    ]
    assert message.content[0].text == "Let me look."  # type: ignore[union-attr]
    assert message.stop_reason == "tool_use"
    assert (message.usage.input_tokens, message.usage.output_tokens, message.usage.cache_read_input_tokens) == (30, 30, 20)


def _protocol_order(events: list[tuple[str | None, Any]]) -> None:
    """Anthropic's grammar: message_start, then blocks (start, deltas, stop) in index order, then
    message_delta and message_stop; every event's name matches its data's type."""
    names = [name for name, _ in events if name != "ping"]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
    assert all(name == data["type"] for name, data in events)
    open_index, next_index = None, 0
    for name, data in events[1:-2]:
        if name == "content_block_start":
            assert open_index is None and data["index"] == next_index
            open_index, next_index = data["index"], next_index + 1
        elif name == "content_block_delta":
            assert data["index"] == open_index, f"a delta for block {data['index']} while {open_index} is open"
        elif name == "content_block_stop":
            assert data["index"] == open_index
            open_index = None
    assert open_index is None


def test_the_raw_event_stream_follows_anthropics_grammar(proxy: RunningProxy, scripted: ScriptedUpstream) -> None:
    scripted.script("m", Step(events=SEQUENTIAL))

    response = post(proxy, {"model": "m", "max_tokens": 64, "messages": USER, "tools": TOOLS, "stream": True})

    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    _protocol_order(events)
    blocks = [d["content_block"]["type"] for n, d in events if n == "content_block_start"]
    assert blocks == ["text", "tool_use", "tool_use"]
    deltas = [(d["index"], d["delta"]["type"]) for n, d in events if n == "content_block_delta"]
    assert {kind for index, kind in deltas if index == 0} == {"text_delta"}
    assert {kind for index, kind in deltas if index > 0} == {"input_json_delta"}
    start = events[0][1]["message"]
    assert (start["role"], start["model"], start["content"], start["stop_reason"]) == ("assistant", "m", [], None)
    assert events[-2][1]["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}


def test_interleaved_tool_calls_never_send_a_delta_to_a_stopped_block(proxy: RunningProxy,
                                                                      scripted: ScriptedUpstream) -> None:
    scripted.script("m", Step(events=INTERLEAVED))

    response = post(proxy, {"model": "m", "max_tokens": 64, "messages": USER, "tools": TOOLS, "stream": True})

    _protocol_order(sse_events(response.text))


def test_a_matched_stop_sequence_is_reported(proxy: RunningProxy, scripted: ScriptedUpstream) -> None:
    finish = chunk("m", {}, "stop")
    finish["choices"][0]["stop_reason"] = "END"  # vLLM names the matched sequence
    scripted.script("m", Step(events=[chunk("m", {"content": "one two"}), finish, usage_chunk("m"), "data: [DONE]"]))

    message = _final(proxy, stop_sequences=["END"])

    assert (message.stop_reason, message.stop_sequence) == ("stop_sequence", "END")
    assert scripted.requests[0].body["stop"] == ["END"]


def test_a_length_finish_is_max_tokens(proxy: RunningProxy, scripted: ScriptedUpstream) -> None:
    scripted.script("m", Step(events=[chunk("m", {"content": "cut"}), chunk("m", {}, "length"), "data: [DONE]"]))

    assert _final(proxy).stop_reason == "max_tokens"


def _error_after_content(proxy: RunningProxy) -> tuple[anthropic.APIError, str]:
    with pytest.raises(anthropic.APIError) as caught, sdk(proxy).messages.stream(
        model="m", max_tokens=64, messages=USER
    ) as stream:
        text = ""
        for piece in stream.text_stream:
            text += piece
    return caught.value, text


def test_an_upstream_error_after_content_ends_the_stream_with_an_error_event(proxy: RunningProxy,
                                                                            scripted: ScriptedUpstream) -> None:
    events = [chunk("m", {"role": "assistant", "content": "Hello"}), error_event("m", 502, "provider went away")]
    scripted.script("m", Step(events=[*events, "data: [DONE]"]), Step(events=[*events, "data: [DONE]"]))

    error, text = _error_after_content(proxy)
    raw = sse_events(post(proxy, {"model": "m", "max_tokens": 8, "messages": USER, "stream": True}).text)

    assert text == "Hello"
    assert "provider went away" in str(error)
    assert raw[-1] == ("error", {"type": "error", "error": {"type": "api_error", "message": "provider went away"}})
    assert "message_stop" not in [name for name, _ in raw]
    assert len(scripted.requests) == 2  # once content is out, nothing is retried


def test_a_stall_past_the_backend_timeout_ends_the_stream_with_an_error_event(scripted: ScriptedUpstream,
                                                                              start_proxy: StartProxy) -> None:
    proxy = start_proxy(make_config({"local": openai_backend(scripted.base_url, timeout=0.4)}))
    scripted.script("m", Step(stall_after=4))  # keep-alive, role chunk, "Hello", " from", then silence

    error, text = _error_after_content(proxy)

    assert text == "Hello from"
    assert isinstance(error, anthropic.APIStatusError)
    assert error.body["error"]["type"] == "api_error"  # type: ignore[index]
    assert "no response within 0.4s" in error.body["error"]["message"]  # type: ignore[index]
    assert len(scripted.requests) == 1


def test_a_stream_cut_before_done_ends_with_an_error_event(proxy: RunningProxy, scripted: ScriptedUpstream) -> None:
    scripted.script("m", Step(events=[chunk("m", {"content": "Hello"}), chunk("m", {"content": " there"})]))

    response = post(proxy, {"model": "m", "max_tokens": 8, "messages": USER, "stream": True})

    events = sse_events(response.text)
    assert events[-1][0] == "error" and events[-1][1]["error"]["type"] == "api_error"
    assert "ended before it was complete" in events[-1][1]["error"]["message"]
