"""Responses tools as chat tools and back (src/translation/responses_tools.py): functions, custom
(freeform) tools, namespace groups, hosted tools left out, tool_choice, and the upstream names."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from src.translation.responses_tools import MAX_GRAMMAR, Tool, ToolMap, chat_tool_choice, chat_tools
from src.wire.errors import InvalidRequest

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
INPUT_ONLY = {"type": "object", "properties": {"input": {"type": "string", "description": "The tool's whole input, "
              "as free text."}}, "required": ["input"], "additionalProperties": False}  # fmt: skip


def converted(*tools: object, names: ToolMap | None = None) -> list[dict[str, Any]]:
    return chat_tools(list(tools), names if names is not None else ToolMap())


@pytest.mark.parametrize(
    ("tool", "function"),
    [
        ({"type": "function", "name": "get_weather", "description": "Weather.", "parameters": SCHEMA, "strict": True},
         {"name": "get_weather", "description": "Weather.", "parameters": SCHEMA, "strict": True}),
        ({"type": "function", "name": "ping"}, {"name": "ping", "parameters": {"type": "object", "properties": {}}}),
        ({"type": "function", "name": "ping", "description": "", "parameters": None, "strict": None},
         {"name": "ping", "parameters": {"type": "object", "properties": {}}}),
        ({"type": "custom", "name": "apply_patch", "description": "Edit files."},
         {"name": "apply_patch", "description": "Edit files.", "parameters": INPUT_ONLY}),
        ({"type": "custom", "name": "apply_patch"},
         {"name": "apply_patch", "description": "The apply_patch tool.", "parameters": INPUT_ONLY}),
        ({"type": "custom", "name": "sql", "description": "Query.",
          "format": {"type": "grammar", "syntax": "lark", "definition": "start: SELECT"}},
         {"name": "sql", "description": "Query.\n\nThe input must follow this lark grammar:\nstart: SELECT",
          "parameters": INPUT_ONLY}),
    ],
)  # fmt: skip
def test_functions_pass_and_custom_tools_become_one_string_functions(tool: dict[str, Any], function: dict[str, Any]) -> None:
    assert converted(tool) == [{"type": "function", "function": function}]


def test_a_long_grammar_is_cut_in_the_description() -> None:
    tool = {"type": "custom", "name": "g", "format": {"type": "grammar", "syntax": "lark", "definition": "x" * 20000}}
    description = converted(tool)[0]["function"]["description"]
    assert description.count("x") == MAX_GRAMMAR


def test_a_namespace_is_flattened_and_each_tool_maps_back_with_it() -> None:
    names = ToolMap()
    group = {"type": "namespace", "name": "multi_agent_v1", "description": "Agents.", "tools": [
        {"type": "function", "name": "spawn_agent", "parameters": SCHEMA},
        {"type": "custom", "name": "note"},
    ]}  # fmt: skip
    tools = converted({"type": "function", "name": "plain"}, group, names=names)
    assert [t["function"]["name"] for t in tools] == ["plain", "multi_agent_v1__spawn_agent", "multi_agent_v1__note"]
    assert names.back("multi_agent_v1__spawn_agent") == Tool("function", "spawn_agent", "multi_agent_v1")
    assert names.back("multi_agent_v1__note") == Tool("custom", "note", "multi_agent_v1")
    assert names.back("plain") == Tool("function", "plain")
    assert names.back("never_declared") == Tool("function", "never_declared")


@pytest.mark.parametrize("kind", ["web_search", "web_search_preview", "file_search", "code_interpreter",
                                  "image_generation", "computer_use_preview", "mcp", "local_shell"])  # fmt: skip
def test_hosted_tools_are_left_out_with_a_warning(kind: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "switchyard.responses"):
        tools = converted({"type": kind}, {"type": "function", "name": "kept"})
    assert [t["function"]["name"] for t in tools] == ["kept"]
    assert f"tool type {kind!r} runs on OpenAI's side only" in caplog.text


def test_a_namespace_inside_a_namespace_is_left_out(caplog: pytest.LogCaptureFixture) -> None:
    inner = {"type": "namespace", "name": "b", "tools": [{"type": "function", "name": "f"}]}
    with caplog.at_level(logging.WARNING, "switchyard.responses"):
        assert converted({"type": "namespace", "name": "a", "tools": [inner]}) == []
    assert "'namespace'" in caplog.text


def test_names_upstreams_refuse_are_made_safe_and_map_back() -> None:
    names = ToolMap()
    tools = converted({"type": "function", "name": "files.read"}, {"type": "function", "name": "x" * 80}, names=names)
    sent = [t["function"]["name"] for t in tools]
    assert all(len(n) <= 64 and n.replace("_", "").replace("-", "").isalnum() for n in sent)
    assert [names.back(n).name for n in sent] == ["files.read", "x" * 80]
    assert names.upstream("files.read") == sent[0]


def test_a_flattened_name_that_collides_with_a_plain_tool_gets_a_suffix() -> None:
    names = ToolMap()
    group = {"type": "namespace", "name": "mcp", "tools": [{"type": "function", "name": "search"}]}
    tools = converted({"type": "function", "name": "mcp__search"}, group, names=names)
    sent = [t["function"]["name"] for t in tools]
    assert sent == ["mcp__search", "mcp__search_2"]
    assert names.back("mcp__search") == Tool("function", "mcp__search")
    assert names.back("mcp__search_2") == Tool("function", "search", "mcp")
    assert names.upstream("search", "mcp") == "mcp__search_2"


@pytest.mark.parametrize(
    ("tools", "param"),
    [
        ({"type": "function"}, "tools"),
        (["function"], "tools.0"),
        ([{"name": "f"}], "tools.0.type"),
        ([{"type": "function"}], "tools.0.name"),
        ([{"type": "custom", "name": ""}], "tools.0.name"),
        ([{"type": "namespace", "name": "ns"}], "tools.0.tools"),
        ([{"type": "namespace", "tools": []}], "tools.0.name"),
        ([{"type": "namespace", "name": "ns", "tools": [{"type": "function"}]}], "tools.0.tools.0.name"),
    ],
)
def test_malformed_tools_are_400s_that_name_them(tools: object, param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        chat_tools(tools, ToolMap())
    assert caught.value.param == param


def test_no_tools_is_no_tools() -> None:
    assert chat_tools(None, ToolMap()) == []


def declared() -> ToolMap:
    names = ToolMap()
    converted({"type": "function", "name": "get_weather"}, {"type": "custom", "name": "apply_patch"},
              {"type": "namespace", "name": "mcp", "tools": [{"type": "function", "name": "search"}]}, names=names)
    return names


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        (None, None),
        ("auto", "auto"),
        ("none", "none"),
        ("required", "required"),
        ({"type": "function", "name": "get_weather"}, {"type": "function", "function": {"name": "get_weather"}}),
        ({"type": "custom", "name": "apply_patch"}, {"type": "function", "function": {"name": "apply_patch"}}),
        ({"type": "function", "name": "search", "namespace": "mcp"}, {"type": "function", "function": {"name": "mcp__search"}}),
        ({"type": "allowed_tools", "mode": "required", "tools": []}, "required"),
        ({"type": "allowed_tools", "mode": "auto", "tools": []}, "auto"),
        ({"type": "web_search_preview"}, "auto"),
    ],
)  # fmt: skip
def test_tool_choice_in_chat_terms(choice: object, expected: object) -> None:
    assert chat_tool_choice(choice, declared()) == expected


@pytest.mark.parametrize("choice", ["sometimes", 3, ["auto"]])
def test_a_malformed_tool_choice_is_a_400(choice: object) -> None:
    with pytest.raises(InvalidRequest) as caught:
        chat_tool_choice(choice, ToolMap())
    assert caught.value.param == "tool_choice"
