"""messages_to_chat: tool calls, tool results, tool definitions and tool_choice (D1, D7)."""

from __future__ import annotations

import orjson
import pytest

from src.translation.anthropic_request import messages_to_chat
from src.translation.tool_names import safe_identifier
from tests.translation.anthropic_request_helpers import (
    CACHE,
    LONG_TOOL,
    assistant,
    chat_of,
    image_b64,
    image_url,
    messages_of,
    text,
    tool_result,
    tool_use,
    user,
)


def test_assistant_tool_use_becomes_tool_calls_with_null_content() -> None:
    out = messages_of(
        [
            user("weather?"),
            assistant([text(""), tool_use("toolu_1", "get_weather", {"city": "Paris", "days": [1, 2]})]),
            user([tool_result("toolu_1", "sunny")]),
        ]
    )
    assert out[1] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "toolu_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Paris","days":[1,2]}'},
            }
        ],
    }
    assert orjson.loads(out[1]["tool_calls"][0]["function"]["arguments"]) == {"city": "Paris", "days": [1, 2]}
    assert out[2] == {"role": "tool", "tool_call_id": "toolu_1", "content": "sunny"}


def test_parallel_tool_calls_and_results_survive_in_order() -> None:
    out = messages_of(
        [
            user("compare"),
            assistant(
                [
                    text("Checking both."),
                    tool_use("toolu_a", "get_weather", {"city": "Paris"}),
                    tool_use("toolu_b", "get_weather", {"city": "Rome"}),
                ]
            ),
            user([tool_result("toolu_a", "sunny"), tool_result("toolu_b", "rainy"), text("thanks")]),
        ]
    )
    assert [m["role"] for m in out] == ["user", "assistant", "tool", "tool", "user"]
    assert out[1]["content"] == "Checking both."
    assert [c["id"] for c in out[1]["tool_calls"]] == ["toolu_a", "toolu_b"]
    assert [(m["tool_call_id"], m["content"]) for m in out[2:4]] == [("toolu_a", "sunny"), ("toolu_b", "rainy")]
    assert out[4] == {"role": "user", "content": "thanks"}


def test_tool_results_come_before_user_text_of_the_same_turn() -> None:
    out = messages_of(
        [
            assistant([tool_use("toolu_1", "ls", {})]),
            user([text("before"), tool_result("toolu_1", "a.txt"), text("after")]),
        ]
    )
    assert [m["role"] for m in out] == ["assistant", "tool", "user"]
    assert out[2]["content"] == "before\nafter"


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        pytest.param(tool_result("t", "boom", is_error=True), "Error: boom", id="error-string"),
        pytest.param(
            tool_result("t", [text("boom"), text("trace")], is_error=True), "Error: boom\ntrace", id="error-blocks"
        ),
        pytest.param(tool_result("t", None, is_error=True), "Error", id="error-empty"),
        pytest.param(tool_result("t", "fine", is_error=False), "fine", id="not-error"),
        pytest.param({"type": "tool_result", "tool_use_id": "t"}, "", id="missing-content"),
        pytest.param(tool_result("t", [text("a"), text(""), text("b")]), "a\nb", id="blocks-joined-empty-dropped"),
    ],
)
def test_tool_result_content(result: dict, expected: str) -> None:
    out = messages_of([assistant([tool_use("t", "f", {})]), user([result])])
    assert out[1] == {"role": "tool", "tool_call_id": "t", "content": expected}


def test_tool_result_images_follow_in_a_user_message() -> None:
    out = messages_of(
        [
            assistant([tool_use("toolu_s", "screenshot", {}), tool_use("toolu_t", "ls", {})]),
            user(
                [
                    tool_result("toolu_s", [text("captured"), image_b64("UE5H")]),
                    tool_result("toolu_t", "a.txt"),
                    text("what do you see?"),
                ]
            ),
        ]
    )
    assert [m["role"] for m in out] == ["assistant", "tool", "tool", "user"]
    assert out[1]["tool_call_id"] == "toolu_s"
    assert out[1]["content"].startswith("captured\n")
    assert "1 attachment" in out[1]["content"]
    assert out[2] == {"role": "tool", "tool_call_id": "toolu_t", "content": "a.txt"}
    assert out[3]["content"] == [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,UE5H"}},
        {"type": "text", "text": "what do you see?"},
    ]


def test_tool_result_with_only_an_image() -> None:
    out = messages_of(
        [assistant([tool_use("t", "shot", {})]), user([tool_result("t", [image_url("https://x/y.png")])])]
    )
    assert out[1]["role"] == "tool" and "attachment" in out[1]["content"]
    assert out[2] == {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}


def test_tool_result_cache_control_for_claude() -> None:
    out = messages_of(
        [assistant([tool_use("t", "f", {})]), user([tool_result("t", "big output", cache_control=CACHE)])],
        model="anthropic/claude-opus-4",
    )
    assert out[1]["content"] == [{"type": "text", "text": "big output", "cache_control": CACHE}]


def test_tool_ids_and_names_beyond_limits_round_trip() -> None:
    bad_id = "call_7f3|gemini:thought/sig==" + "z" * 60
    body = {
        "model": "openai/gpt-4o",
        "max_tokens": 64,
        "tools": [{"name": LONG_TOOL, "description": "read", "input_schema": {"type": "object", "properties": {}}}],
        "tool_choice": {"type": "tool", "name": LONG_TOOL},
        "messages": [
            user("read it"),
            assistant([tool_use(bad_id, LONG_TOOL, {"path": "/a"})]),
            user([tool_result(bad_id, "contents")]),
        ],
    }
    chat, names = messages_to_chat(body)
    sent_name = chat["tools"][0]["function"]["name"]
    call = chat["messages"][1]["tool_calls"][0]
    assert len(sent_name) <= 64 and sent_name != LONG_TOOL
    assert call["function"]["name"] == sent_name
    assert chat["tool_choice"] == {"type": "function", "function": {"name": sent_name}}
    assert call["id"] == safe_identifier(bad_id) and len(call["id"]) <= 64
    assert chat["messages"][2]["tool_call_id"] == call["id"]  # the pair still matches
    assert names.client(sent_name) == LONG_TOOL


def test_tools() -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    chat = chat_of(
        messages=[user("x")],
        tools=[
            {"name": "get_weather", "description": "Weather now", "input_schema": schema, "cache_control": CACHE},
            {"type": "custom", "name": "noop", "input_schema": {"type": "object"}, "strict": True},
        ],
    )
    assert chat["tools"] == [
        {"type": "function", "function": {"name": "get_weather", "description": "Weather now", "parameters": schema}},
        {"type": "function", "function": {"name": "noop", "parameters": {"type": "object"}, "strict": True}},
    ]


TOOLS = [{"name": "get_weather", "input_schema": {"type": "object"}}]


@pytest.mark.parametrize(
    ("tool_choice", "expected"),
    [
        ({"type": "auto"}, {"tool_choice": "auto"}),
        ({"type": "any"}, {"tool_choice": "required"}),
        ({"type": "none"}, {"tool_choice": "none"}),
        (
            {"type": "tool", "name": "get_weather"},
            {"tool_choice": {"type": "function", "function": {"name": "get_weather"}}},
        ),
        ({"type": "auto", "disable_parallel_tool_use": True}, {"tool_choice": "auto", "parallel_tool_calls": False}),
        ({"type": "any", "disable_parallel_tool_use": True}, {"tool_choice": "required", "parallel_tool_calls": False}),
        ({"type": "auto", "disable_parallel_tool_use": False}, {"tool_choice": "auto"}),
    ],
)
def test_tool_choice(tool_choice: dict, expected: dict) -> None:
    chat = chat_of(messages=[user("x")], tools=TOOLS, tool_choice=tool_choice)
    assert {k: chat[k] for k in ("tool_choice", "parallel_tool_calls") if k in chat} == expected


def test_tool_choice_without_tools_is_dropped() -> None:
    chat = chat_of(messages=[user("x")], tool_choice={"type": "auto", "disable_parallel_tool_use": True})
    assert "tool_choice" not in chat and "parallel_tool_calls" not in chat and "tools" not in chat
