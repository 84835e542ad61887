"""completion_as_events: a non-streamed chat completion replayed as the chunks a streaming client expects."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from openai.types.chat import ChatCompletionChunk

from src.wire.completion_stream import completion_as_events
from src.wire.openai_chat import CHAT
from src.wire.protocol import error_in
from src.wire.sse import Event, EventSplitter, joined

USAGE = {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}
BASE = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": "gpt-4o"}
CHUNK_BASE = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1700000000, "model": "gpt-4o"}
TOOL_CALLS = [
    {"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
    {"id": "call_b", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
]


def completion(*choices: dict[str, Any], usage: dict[str, Any] | None = USAGE, **extra: Any) -> dict[str, Any]:
    body = {**BASE, **extra, "choices": list(choices)}
    if usage is not None:
        body["usage"] = usage
    return body


def answer(message: dict[str, Any], finish_reason: str = "stop", index: int = 0) -> dict[str, Any]:
    return {"index": index, "message": message, "finish_reason": finish_reason, "logprobs": None}


def events(output: list[Event]) -> list[bytes]:
    """The events as a client reads them: the stream split again is the same events, each whole."""
    splitter = EventSplitter()
    parsed = [event.raw for event in splitter.feed(joined(output))]
    assert splitter.flush() is None  # nothing left over: every event is complete
    assert parsed == [event.raw for event in output]
    return parsed


def chunks(output: list[Event]) -> list[dict[str, Any]]:
    """The JSON payloads of every event before the final [DONE]."""
    parsed = events(output)
    assert parsed[-1] == b"data: [DONE]\n\n"
    assert all(event.startswith(b"data: ") for event in parsed)
    payloads = [orjson.loads(event[len(b"data: ") :]) for event in parsed[:-1]]
    assert [event.payload for event in output[:-1]] == payloads  # each event's payload is what it carries
    return payloads


def test_text_completion_becomes_content_finish_usage_and_done() -> None:
    output = completion_as_events(completion(answer({"role": "assistant", "content": "Hello!"})))
    assert output is not None
    assert joined(output).endswith(b"data: [DONE]\n\n")
    assert chunks(output) == [
        {
            **CHUNK_BASE,
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hello!"}, "finish_reason": None}],
        },
        {**CHUNK_BASE, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        {**CHUNK_BASE, "choices": [], "usage": USAGE},
    ]


def test_without_usage_there_is_no_usage_chunk() -> None:
    output = completion_as_events(completion(answer({"role": "assistant", "content": "x"}), usage=None))
    assert output is not None
    assert [c["choices"][0]["finish_reason"] for c in chunks(output)] == [None, "stop"]


def test_tool_calls_get_an_index_each() -> None:
    message = {"role": "assistant", "content": None, "tool_calls": TOOL_CALLS}
    output = completion_as_events(completion(answer(message, "tool_calls")))
    assert output is not None
    first, finish, _ = chunks(output)
    delta = first["choices"][0]["delta"]
    assert "content" not in delta  # a null field is left out
    assert delta["tool_calls"] == [{**call, "index": i} for i, call in enumerate(TOOL_CALLS)]
    assert finish["choices"][0]["finish_reason"] == "tool_calls"


def test_reasoning_and_refusal_are_kept_and_a_missing_role_is_assistant() -> None:
    details = [{"type": "reasoning.text", "text": "think"}]
    message = {"content": "42", "reasoning": "Let me think.", "reasoning_details": details, "refusal": None}
    output = completion_as_events(completion(answer(message)))
    assert output is not None
    delta = chunks(output)[0]["choices"][0]["delta"]
    assert delta == {"role": "assistant", "content": "42", "reasoning": "Let me think.", "reasoning_details": details}


def test_several_choices_and_extra_top_level_fields() -> None:
    body = completion(
        answer({"role": "assistant", "content": "a"}, index=0),
        answer({"role": "assistant", "content": "b"}, "length", index=1),
        provider="OpenAI",
        system_fingerprint="fp_1",
        service_tier="default",
    )
    output = completion_as_events(body)
    assert output is not None
    parsed = chunks(output)
    assert [(c["choices"][0]["index"], c["choices"][0]["finish_reason"]) for c in parsed[:4]] == [
        (0, None), (0, "stop"), (1, None), (1, "length"),
    ]
    assert all(c["provider"] == "OpenAI" and c["system_fingerprint"] == "fp_1" for c in parsed)
    assert all(c["object"] == "chat.completion.chunk" for c in parsed)


def test_choice_without_index_is_numbered_by_position() -> None:
    first = {"message": {"role": "assistant", "content": "a"}, "finish_reason": "stop"}
    second = {"message": {"role": "assistant", "content": "b"}, "finish_reason": "stop"}
    output = completion_as_events(completion(first, second))
    assert output is not None
    assert [c["choices"][0]["index"] for c in chunks(output)[:4]] == [0, 0, 1, 1]


@pytest.mark.parametrize(
    "body",
    [
        [],
        [{"choices": []}],
        "text",
        None,
        42,
        {},
        {"id": "x", "object": "chat.completion"},
        {"error": {"message": "no"}},
        {"choices": None},
        {"choices": {"0": {"message": {}}}},
        {"choices": "none"},
        {"choices": ["not a choice"]},
        {"choices": [answer({"content": "a"}), 5]},
        # a choice whose message is no object
        {"choices": [{"message": "x"}]},
        {"choices": [{"index": 0, "message": "Hello", "finish_reason": "stop"}]},
        {"choices": [{"message": ["Hello"]}]},
        {"choices": [{"message": []}]},
        {"choices": [{"message": None}]},
        {"choices": [{"message": 0}]},
        {"choices": [{"index": 0, "finish_reason": "stop"}]},
        {"choices": [{}]},
        {"choices": [answer({"content": "a"}), {"index": 1, "message": "b"}]},
        {"choices": [answer({"content": "a"}), {"index": 1, "finish_reason": "stop"}]},
    ],
)
def test_non_completions_give_none(body: Any) -> None:
    assert completion_as_events(body) is None


def test_no_event_before_the_end_ends_the_stream() -> None:
    output = completion_as_events(completion(answer({"role": "assistant", "content": "x"})))
    assert output is not None
    events(output)
    ends = [CHAT.is_last(event) or error_in(event, CHAT) is not None for event in output]
    assert ends == [False] * (len(output) - 1) + [True]


@pytest.mark.parametrize(
    "message",
    [
        {"role": "assistant", "content": "Hello, wörld ☃"},
        {"role": "assistant", "content": None, "tool_calls": TOOL_CALLS},
        {"role": "assistant", "content": "", "refusal": "I can't help with that."},
    ],
)
def test_the_openai_sdk_accepts_every_chunk(message: dict[str, Any]) -> None:
    output = completion_as_events(completion(answer(message), provider="OpenAI"))
    assert output is not None
    parsed = [ChatCompletionChunk.model_validate(chunk) for chunk in chunks(output)]
    assert parsed[0].choices[0].delta.role == "assistant"
    assert parsed[0].choices[0].delta.content == message["content"]
    if "tool_calls" in message:
        calls = parsed[0].choices[0].delta.tool_calls or []
        assert [(c.index, c.id, c.function and c.function.name) for c in calls] == [
            (0, "call_a", "get_weather"),
            (1, "call_b", "get_time"),
        ]
    assert parsed[1].choices[0].finish_reason == "stop"
    assert parsed[-1].usage is not None and parsed[-1].usage.total_tokens == 11
