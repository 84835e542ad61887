"""messages_to_chat: Anthropic Messages request bodies as OpenAI chat bodies (D1, D7)."""

from __future__ import annotations

import orjson
import pytest

from src.translation.anthropic_request import messages_to_chat
from src.translation.tool_names import safe_identifier

LONG_TOOL = "mcp__filesystem__" + "read_multiple_files_with_metadata_" * 3


def chat_of(**body: object) -> dict:
    body.setdefault("model", "openai/gpt-4o")
    body.setdefault("max_tokens", 256)
    chat, _ = messages_to_chat(body)
    return chat


def messages_of(messages: list, **body: object) -> list[dict]:
    return chat_of(messages=messages, **body)["messages"]


def user(content: object) -> dict:
    return {"role": "user", "content": content}


def assistant(content: object) -> dict:
    return {"role": "assistant", "content": content}


def text(value: str, **extra: object) -> dict:
    return {"type": "text", "text": value, **extra}


def tool_use(call_id: str, name: str, arguments: dict) -> dict:
    return {"type": "tool_use", "id": call_id, "name": name, "input": arguments}


def tool_result(call_id: str, content: object = "ok", **extra: object) -> dict:
    return {"type": "tool_result", "tool_use_id": call_id, "content": content, **extra}


def image_b64(data: str = "iVBORw0KGgo=", media_type: str = "image/png") -> dict:
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}


def image_url(url: str) -> dict:
    return {"type": "image", "source": {"type": "url", "url": url}}


CACHE = {"type": "ephemeral"}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param({"system": "Be brief."}, [{"role": "system", "content": "Be brief."}], id="string"),
        pytest.param(
            {"system": [text("You are Claude Code."), text("Be brief.")]},
            [{"role": "system", "content": "You are Claude Code.\nBe brief."}],
            id="blocks-joined",
        ),
        pytest.param(
            {"system": [text("A", cache_control=CACHE), text("B")]},
            [{"role": "system", "content": "A\nB"}],
            id="blocks-cache-control-dropped-for-non-claude",
        ),
        pytest.param(
            {"model": "anthropic/claude-sonnet-4", "system": [text("A", cache_control=CACHE), text("B")]},
            [
                {
                    "role": "system",
                    "content": [{"type": "text", "text": "A", "cache_control": CACHE}, {"type": "text", "text": "B"}],
                }
            ],
            id="blocks-cache-control-kept-for-claude",
        ),
        pytest.param({"system": [text(""), text("  ")]}, [], id="only-empty-blocks"),
        pytest.param({"system": ""}, [], id="empty-string"),
    ],
)
def test_system(body: dict, expected: list) -> None:
    assert messages_of([user("hi")], **body)[:-1] == expected


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param("hello", "hello", id="string"),
        pytest.param([text("a"), text("b")], "a\nb", id="text-blocks-joined"),
        pytest.param([text("a"), text(""), text(" \n"), text("b")], "a\nb", id="empty-text-blocks-dropped"),
        pytest.param(
            [text("what is this?"), image_b64("QUJD", "image/jpeg")],
            [
                {"type": "text", "text": "what is this?"},
                {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,QUJD"}},
            ],
            id="image-base64",
        ),
        pytest.param(
            [image_url("https://example.com/cat.png")],
            [{"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}],
            id="image-url",
        ),
        pytest.param(
            [{"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}}],
            [{"type": "file", "file": {"filename": "document.pdf", "file_data": "data:application/pdf;base64,JVBE"}}],
            id="document-pdf",
        ),
        pytest.param(
            [{"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "notes"}}],
            "notes",
            id="document-text",
        ),
    ],
)
def test_user_content(content: object, expected: object) -> None:
    assert messages_of([user(content)]) == [{"role": "user", "content": expected}]


def test_message_left_empty_is_dropped() -> None:
    assert messages_of([user([text("")]), user("real")]) == [{"role": "user", "content": "real"}]


def test_user_text_cache_control_kept_for_claude() -> None:
    out = messages_of([user([text("a"), text("b", cache_control=CACHE)])], model="claude-sonnet-4-5")
    assert out == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b", "cache_control": CACHE}],
        }
    ]


def test_keep_cache_control_overrides_the_model_rule() -> None:
    body = {"model": "my-alias", "max_tokens": 8, "messages": [user([text("a", cache_control=CACHE)])]}
    kept, _ = messages_to_chat(body, keep_cache_control=True)
    dropped, _ = messages_to_chat({**body, "model": "claude-x"}, keep_cache_control=False)
    assert kept["messages"][0]["content"] == [{"type": "text", "text": "a", "cache_control": CACHE}]
    assert dropped["messages"][0]["content"] == "a"


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


def test_thinking_history() -> None:
    out = messages_of(
        [
            user("q"),
            assistant(
                [
                    {"type": "thinking", "thinking": "let me think", "signature": "EqQBCkYIBxgC"},
                    {"type": "redacted_thinking", "data": "EmwKAhgBEgy3"},
                    text("answer"),
                ]
            ),
            assistant([{"type": "thinking", "thinking": "unsigned", "signature": ""}, text("second")]),
            assistant([{"type": "thinking", "thinking": "alone", "signature": "sig"}]),
        ]
    )
    assert out[1] == {
        "role": "assistant",
        "content": "answer",
        "reasoning_details": [
            {
                "type": "reasoning.text",
                "text": "let me think",
                "signature": "EqQBCkYIBxgC",
                "format": "anthropic-claude-v1",
                "index": 0,
            },
            {"type": "reasoning.encrypted", "data": "EmwKAhgBEgy3", "format": "anthropic-claude-v1", "index": 1},
        ],
    }
    assert out[2] == {"role": "assistant", "content": "second"}  # unsigned thinking dropped
    assert len(out) == 3  # a message with nothing but thinking is dropped


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


def test_mid_conversation_system_messages_keep_their_place() -> None:
    # Claude Code 2.1 sends system messages between turns (beta mid-conversation-system-2026-04-07).
    body = {
        "model": "m",
        "max_tokens": 5,
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "system", "content": "agent types: ..."},
            {"role": "system", "content": [{"type": "text", "text": "skills: ..."}]},
            {"role": "assistant", "content": "hello"},
        ],
    }
    chat, _ = messages_to_chat(body)
    assert [(m["role"], m["content"]) for m in chat["messages"]] == [
        ("user", "hi"),
        ("system", "agent types: ..."),
        ("system", "skills: ..."),
        ("assistant", "hello"),
    ]
