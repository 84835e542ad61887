"""A Responses request as a chat-completions request (src/translation/responses_request.py): the one
leading system message, the output fields, the passed and dropped fields, tools and tool_choice."""

from __future__ import annotations

from typing import Any

import pytest

from src.translation.reasoning_carrier import Carrier
from src.translation.responses_request import responses_to_chat
from src.wire.errors import InvalidRequest

CARRIER = Carrier(["proxy-secret-one"])
WEATHER = {"type": "function", "name": "get_weather", "description": "Weather.",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}  # fmt: skip


def to_chat(history: list[dict[str, Any]] | None = None, **body: Any) -> dict[str, Any]:
    chat, _, _ = responses_to_chat({"model": "vendor/m", **body}, history or [], CARRIER, "vendor")
    return chat


def test_a_string_input_is_one_user_message_and_the_model_is_kept() -> None:
    assert to_chat(input="hi") == {"model": "vendor/m", "messages": [{"role": "user", "content": "hi"}]}


def test_instructions_system_and_developer_messages_become_one_leading_system_message() -> None:
    chat = to_chat(instructions="Be brief.", input=[
        {"role": "user", "content": "first"},
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "Use tools."}]},
        {"role": "system", "content": "No emojis."},
        {"role": "user", "content": "second"},
    ])  # fmt: skip
    assert chat["messages"] == [
        {"role": "system", "content": "Be brief.\n\nUse tools.\n\nNo emojis."},
        {"role": "user", "content": "first"},
        {"role": "user", "content": "second"},
    ]


def test_no_system_message_without_instructions_or_system_input() -> None:
    assert [m["role"] for m in to_chat(input=[{"role": "user", "content": "x"}])["messages"]] == ["user"]


def test_the_previous_conversation_comes_first_after_the_system_message() -> None:
    history = [{"role": "user", "content": "earlier"}, {"role": "assistant", "content": "answer"}]
    chat, _, conversation = responses_to_chat({"model": "m", "instructions": "S", "input": "now"}, history, CARRIER, "m")
    assert chat["messages"] == [{"role": "system", "content": "S"}, *history, {"role": "user", "content": "now"}]
    assert conversation == [*history, {"role": "user", "content": "now"}]  # what a later request continues from
    assert history == [{"role": "user", "content": "earlier"}, {"role": "assistant", "content": "answer"}]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"max_output_tokens": 64}, {"max_tokens": 64}),
        ({"reasoning": {"effort": "high", "summary": "auto"}}, {"reasoning": {"effort": "high"}}),
        ({"reasoning": {"summary": "auto"}}, {}),
        ({"text": {"format": {"type": "text"}}}, {}),
        ({"text": {"format": {"type": "json_object"}}}, {"response_format": {"type": "json_object"}}),
        ({"text": {"format": {"type": "json_schema", "name": "point", "strict": True, "description": "A point.",
                              "schema": {"type": "object", "properties": {"x": {"type": "number"}}}}}},
         {"response_format": {"type": "json_schema", "json_schema": {
             "name": "point", "strict": True, "description": "A point.",
             "schema": {"type": "object", "properties": {"x": {"type": "number"}}}}}}),
        ({"text": {"verbosity": "low"}}, {"verbosity": "low"}),
        ({"stream": True}, {"stream": True, "stream_options": {"include_usage": True}}),
        ({"stream": False}, {}),
        ({"temperature": 0.2, "top_p": 0.9, "user": "u1", "metadata": {"a": "b"}, "prompt_cache_key": "k",
          "seed": 7, "stop": ["x"], "provider": {"order": ["A"]}, "models": ["a/b"]},
         {"temperature": 0.2, "top_p": 0.9, "user": "u1", "metadata": {"a": "b"}, "prompt_cache_key": "k",
          "seed": 7, "stop": ["x"], "provider": {"order": ["A"]}, "models": ["a/b"]}),
        # the proxy's to handle, never the upstream's
        ({"store": True, "include": ["reasoning.encrypted_content"], "truncation": "auto", "background": False,
          "client_metadata": {"x": 1}}, {}),
        ({"parallel_tool_calls": False}, {}),  # OpenAI refuses it without tools
    ],
)  # fmt: skip
def test_fields_map_to_their_chat_names(fields: dict[str, Any], expected: dict[str, Any]) -> None:
    chat = to_chat(input="hi", **fields)
    assert {k: v for k, v in chat.items() if k not in ("model", "messages")} == expected


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"max_output_tokens": 0}, "max_output_tokens"),
        ({"max_output_tokens": "64"}, "max_output_tokens"),
        ({"max_output_tokens": True}, "max_output_tokens"),
        ({"text": {"format": {"type": "grammar"}}}, "text.format.type"),
        ({"instructions": ["not", "a", "string"]}, "instructions"),
        ({"input": 5}, "input"),
        ({"input": {"role": "user"}}, "input"),
        ({"tools": {"type": "function"}}, "tools"),
        ({"input": ["just a string"]}, "input.0"),
    ],
)
def test_malformed_fields_are_400s_that_name_them(fields: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        to_chat(**{"input": "hi", **fields})
    assert caught.value.param == param and caught.value.status == 400


def test_tools_and_tool_choice_and_parallel_tool_calls_go_together() -> None:
    chat = to_chat(input="hi", tools=[WEATHER], tool_choice={"type": "function", "name": "get_weather"},
                   parallel_tool_calls=False)  # fmt: skip
    assert chat["tools"] == [{"type": "function", "function": {
        "name": "get_weather", "description": "Weather.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]  # fmt: skip
    assert chat["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert chat["parallel_tool_calls"] is False


def test_a_tool_choice_without_tools_left_upstream_is_left_out() -> None:
    chat = to_chat(input="hi", tools=[{"type": "web_search"}], tool_choice="required")
    assert "tools" not in chat and "tool_choice" not in chat


def test_the_tool_map_names_each_tool_by_its_upstream_name() -> None:
    custom = {"type": "custom", "name": "apply_patch", "description": "Patch files."}
    group = {"type": "namespace", "name": "mcp", "tools": [{"type": "function", "name": "search"}]}
    chat, names, _ = responses_to_chat({"model": "m", "input": "x", "tools": [WEATHER, custom, group]}, [], CARRIER, "m")
    assert [t["function"]["name"] for t in chat["tools"]] == ["get_weather", "apply_patch", "mcp__search"]
    assert names.back("apply_patch").kind == "custom"
    assert (names.back("mcp__search").name, names.back("mcp__search").namespace) == ("search", "mcp")
