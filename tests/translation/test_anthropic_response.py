"""chat_to_message: OpenAI chat completions as Anthropic Messages (D2-D4)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from src.translation.anthropic_request import messages_to_chat
from src.translation.anthropic_response import chat_to_message
from src.translation.tool_names import ToolNames
from src.wire.errors import UpstreamStatusError

MODEL = "claude-sonnet-4-5"


def completion(message: dict, finish_reason: str | None = "stop", usage: dict | None = None, **choice: object) -> dict:
    return {
        "id": "gen-123",
        "object": "chat.completion",
        "model": "openai/gpt-4o",
        "choices": [
            {"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish_reason, **choice}
        ],
        "usage": usage or {"prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14},
    }


def call(call_id: str, name: str, arguments: str) -> dict:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def translate(payload: dict, names: ToolNames | None = None, stop_sequences: Sequence[str] = ()) -> dict:
    return chat_to_message(payload, MODEL, names or ToolNames(), stop_sequences=stop_sequences)


def test_plain_text_message() -> None:
    assert translate(completion({"content": "Hello!"})) == {
        "id": "msg_gen-123",
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": [{"type": "text", "text": "Hello!"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 10,
            "output_tokens": 4,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }


def test_text_and_parallel_tool_calls() -> None:
    message = translate(
        completion(
            {
                "content": "Checking both.",
                "tool_calls": [
                    call("call_a", "get_weather", '{"city": "Paris"}'),
                    call("call_b", "get_weather", '{"city": "Rome"}'),
                ],
            },
            finish_reason="tool_calls",
        )
    )
    assert message["content"] == [
        {"type": "text", "text": "Checking both."},
        {"type": "tool_use", "id": "call_a", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "call_b", "name": "get_weather", "input": {"city": "Rome"}},
    ]
    assert message["stop_reason"] == "tool_use"


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ('{"a": 1}', {"a": 1}),
        ("", {}),
        (None, {}),
        ("   ", {}),
        ('{"a": 1', {"raw_input": '{"a": 1'}),
        ("[1, 2]", {"raw_input": "[1, 2]"}),
        ('"text"', {"raw_input": '"text"'}),
        ({"already": "object"}, {"already": "object"}),
    ],
)
def test_tool_arguments(arguments: object, expected: dict) -> None:
    tool_call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": arguments}}
    message = translate(completion({"content": None, "tool_calls": [tool_call]}, finish_reason="tool_calls"))
    assert message["content"] == [{"type": "tool_use", "id": "c1", "name": "f", "input": expected}]


def test_tool_names_and_ids_are_mapped_back() -> None:
    long_name = "mcp__github__" + "create_pull_request_review_" * 3
    _, names = messages_to_chat(
        {
            "model": "m",
            "max_tokens": 5,
            "messages": [{"role": "user", "content": "x"}],
            "tools": [{"name": long_name, "input_schema": {"type": "object"}}],
        }
    )
    sent = names.upstream(long_name)
    message = translate(
        completion(
            {
                "content": None,
                "tool_calls": [
                    call("call|sig==", sent, "{}"),
                    {"type": "function", "function": {"name": "g", "arguments": "{}"}},
                ],
            },
            "tool_calls",
        ),
        names,
    )
    first, second = message["content"]
    assert first["name"] == long_name
    assert first["id"] != "call|sig==" and first["id"].startswith("call_sig__")
    assert second["id"] == "toolu_gen-123_1"  # the upstream sent no id


def test_reasoning_becomes_a_leading_thinking_block() -> None:
    message = translate(
        completion({"content": "42", "reasoning": "Let me add.", "tool_calls": [call("c", "f", "{}")]}, "tool_calls")
    )
    assert [block["type"] for block in message["content"]] == ["thinking", "text", "tool_use"]
    assert message["content"][0] == {"type": "thinking", "thinking": "Let me add.", "signature": ""}


def test_reasoning_content_alias_and_details_signature() -> None:
    message = translate(
        completion(
            {
                "content": "ok",
                "reasoning_content": "thought",
                "reasoning_details": [
                    {
                        "type": "reasoning.text",
                        "text": "thought",
                        "signature": "SIG",
                        "format": "anthropic-claude-v1",
                        "index": 0,
                    },
                    {"type": "reasoning.encrypted", "data": "ENC", "format": "anthropic-claude-v1", "index": 1},
                    {"type": "reasoning.encrypted", "data": "OPENAI", "format": "openai-responses-v1", "index": 2},
                ],
            }
        )
    )
    assert message["content"] == [
        {"type": "thinking", "thinking": "thought", "signature": "SIG"},
        {"type": "redacted_thinking", "data": "ENC"},
        {"type": "text", "text": "ok"},
    ]


@pytest.mark.parametrize(
    "message",
    [{"content": ""}, {"content": "\n\n"}, {"content": None}, {}],
)
def test_empty_text_is_skipped(message: dict) -> None:
    assert translate(completion(message))["content"] == []


def test_refusal_and_content_parts() -> None:
    assert translate(completion({"content": None, "refusal": "I can't."}, "content_filter"))["content"] == [
        {"type": "text", "text": "I can't."}
    ]
    parts = {"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}
    assert translate(completion(parts))["content"] == [{"type": "text", "text": "ab"}]


@pytest.mark.parametrize(
    ("finish_reason", "stop_reason"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("content_filter", "refusal"),
        ("tool_calls", "end_turn"),  # no tool call came: a tool_use stop would leave the client waiting
        ("function_call", "end_turn"),
        (None, "end_turn"),
        ("something_new", "end_turn"),
    ],
)
def test_finish_reasons_without_tool_calls(finish_reason: str | None, stop_reason: str) -> None:
    assert translate(completion({"content": "x"}, finish_reason))["stop_reason"] == stop_reason


@pytest.mark.parametrize("finish_reason", ["tool_calls", "stop", "length"])
def test_tool_calls_force_tool_use(finish_reason: str) -> None:
    message = translate(completion({"content": None, "tool_calls": [call("c", "f", "{}")]}, finish_reason))
    assert message["stop_reason"] == "tool_use"


@pytest.mark.parametrize(
    ("choice", "stop_sequences", "expected"),
    [
        ({"stop_reason": "END"}, ["END", "STOP"], ("stop_sequence", "END")),
        ({"stop_reason": "END"}, [], ("end_turn", None)),  # not a sequence the client asked for
        ({"stop_reason": 151643}, ["END"], ("end_turn", None)),  # a stop token id, not a sequence
        ({"native_finish_reason": "stop_sequence"}, ["###"], ("stop_sequence", "###")),
        ({"native_finish_reason": "stop_sequence"}, ["a", "b"], ("stop_sequence", None)),
        ({"native_finish_reason": "end_turn"}, ["a"], ("end_turn", None)),
    ],
)
def test_stop_sequence(choice: dict, stop_sequences: list, expected: tuple) -> None:
    message = translate(completion({"content": "x"}, "stop", **choice), stop_sequences=stop_sequences)
    assert (message["stop_reason"], message["stop_sequence"]) == expected


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        pytest.param(
            {
                "prompt_tokens": 1000,
                "completion_tokens": 50,
                "prompt_tokens_details": {"cached_tokens": 800, "cache_write_tokens": 150},
            },
            {
                "input_tokens": 50,
                "output_tokens": 50,
                "cache_creation_input_tokens": 150,
                "cache_read_input_tokens": 800,
            },
            id="openrouter-read-and-write",
        ),
        pytest.param(
            {"prompt_tokens": 100, "completion_tokens": 7, "prompt_tokens_details": {"cached_tokens": 64}},
            {"input_tokens": 36, "output_tokens": 7, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 64},
            id="openai-read-only",
        ),
        pytest.param(
            {"prompt_tokens": 10, "completion_tokens": 1, "prompt_tokens_details": {"cached_tokens": 20}},
            {"input_tokens": 0, "output_tokens": 1, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 20},
            id="never-negative",
        ),
        pytest.param(
            {"prompt_tokens": None, "completion_tokens": "3", "prompt_tokens_details": None},
            {"input_tokens": 0, "output_tokens": 0, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
            id="garbage",
        ),
    ],
)
def test_usage(usage: dict, expected: dict) -> None:
    assert translate(completion({"content": "x"}, usage=usage))["usage"] == expected


def test_missing_usage_and_choices() -> None:
    message = translate({"id": "msg_abc", "choices": []})
    assert message["id"] == "msg_abc"
    assert message["content"] == [] and message["stop_reason"] == "end_turn"
    assert message["usage"]["input_tokens"] == 0


def test_missing_id_gets_a_fresh_msg_id() -> None:
    first = translate({"choices": []})["id"]
    assert first.startswith("msg_") and first != translate({"choices": []})["id"]


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ({"id": "g", "error": {"code": 429, "message": "Rate limit exceeded"}, "choices": []}, 429),
        (
            {
                "id": "g",
                "choices": [
                    {
                        "index": 0,
                        "message": {"content": "part"},
                        "finish_reason": "error",
                        "error": {"code": 502, "message": "down"},
                    }
                ],
            },
            502,
        ),
        ({"id": "g", "choices": [{"index": 0, "message": {"content": "part"}, "finish_reason": "error"}]}, 502),
        ({"id": "g", "error": {"code": "server_error", "message": "masked"}, "choices": []}, 502),
    ],
)
def test_errors_inside_a_200_raise(payload: dict, status: int) -> None:
    with pytest.raises(UpstreamStatusError) as caught:
        translate(payload)
    assert caught.value.status == status


@pytest.mark.parametrize("empty", [{}, "", None, {"code": None, "message": ""}])
def test_empty_error_objects_are_success(empty: object) -> None:
    payload = completion({"content": "fine"})
    payload["error"] = empty
    assert translate(payload)["content"] == [{"type": "text", "text": "fine"}]
