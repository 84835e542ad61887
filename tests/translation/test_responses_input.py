"""Responses `input` items as chat messages (src/translation/responses_input.py): messages and their
content parts, calls and their outputs, reasoning restored per family, compaction summaries."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from src.translation.reasoning_carrier import Carrier
from src.translation.responses_input import SUMMARY_NOTE, Conversation
from src.translation.responses_tools import Tool, ToolMap
from src.wire.errors import InvalidRequest

CARRIER = Carrier(["proxy-secret-one"])
FIELDS = {"reasoning_content": "I should look it up.", "reasoning_details": [{"type": "reasoning.text", "text": "t"}]}


def messages(*items: dict[str, Any], family: str = "deepseek", names: ToolMap | None = None,
             history: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    conversation = Conversation(CARRIER, family, names or ToolMap(), messages=list(history or []))
    for index, item in enumerate(items):
        conversation.add(item, f"input.{index}")
    return conversation.messages


def call(call_id: str, name: str = "get_weather", arguments: str = '{"city": "Paris"}', **extra: Any) -> dict[str, Any]:
    return {"type": "function_call", "call_id": call_id, "name": name, "arguments": arguments, **extra}


def output(call_id: str, text: object = "sunny", kind: str = "function_call_output") -> dict[str, Any]:
    return {"type": kind, "call_id": call_id, "output": text}


def chat_call(call_id: str, name: str = "get_weather", arguments: str = '{"city": "Paris"}') -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def test_a_function_call_round_trip_is_an_assistant_tool_call_then_a_tool_message() -> None:
    assert messages({"role": "user", "content": "weather?"}, call("call_1"), output("call_1")) == [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": None, "tool_calls": [chat_call("call_1")]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]


def test_consecutive_calls_are_one_assistant_message_with_the_text_before_them() -> None:
    text = {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Checking."}]}
    got = messages(text, call("c1"), call("c2", "get_time", "{}"), output("c2", "noon"), output("c1"))
    assert got == [
        {"role": "assistant", "content": "Checking.", "tool_calls": [chat_call("c1"), chat_call("c2", "get_time", "{}")]},
        {"role": "tool", "tool_call_id": "c2", "content": "noon"},
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
    ]


def test_a_call_after_a_tool_result_starts_a_new_assistant_message() -> None:
    got = messages(call("c1"), output("c1"), call("c2"), output("c2"))
    assert [m["role"] for m in got] == ["assistant", "tool", "assistant", "tool"]


def test_the_output_of_a_call_from_the_previous_response_is_a_tool_message() -> None:
    history: list[dict[str, Any]] = [{"role": "user", "content": "q"},
                                     {"role": "assistant", "content": None, "tool_calls": [chat_call("c9")]}]  # fmt: skip
    assert messages(output("c9"), history=history)[-1] == {"role": "tool", "tool_call_id": "c9", "content": "sunny"}


def test_an_output_whose_call_is_not_in_the_conversation_is_still_given_to_the_model() -> None:
    assert messages(output("gone", "42")) == [{"role": "user", "content": "[output of tool call gone]\n42"}]


@pytest.mark.parametrize(
    ("value", "content"),
    [
        ([{"type": "input_text", "text": "a"}, {"type": "input_text", "text": "b"}], "ab"),
        ({"exit_code": 0}, '{"exit_code":0}'),
        (None, ""),
    ],
)
def test_an_output_that_is_not_a_string_is_made_text(value: object, content: str) -> None:
    assert messages(call("c1"), output("c1", value))[-1]["content"] == content


def test_a_custom_tool_call_is_a_one_string_function_call_and_its_output_a_tool_message() -> None:
    names = ToolMap()
    names.declare(Tool("custom", "apply_patch"))
    patch = "*** Begin Patch\n*** End Patch"
    custom = {"type": "custom_tool_call", "call_id": "c1", "name": "apply_patch", "input": patch}
    got = messages(custom, output("c1", "Done!", kind="custom_tool_call_output"), names=names)
    function = got[0]["tool_calls"][0]["function"]
    assert function["name"] == "apply_patch" and json.loads(function["arguments"]) == {"input": patch}
    assert got[1] == {"role": "tool", "tool_call_id": "c1", "content": "Done!"}


@pytest.mark.parametrize(("declared", "upstream"), [(True, "mcp__search"), (False, "mcp__search")])
def test_a_namespaced_call_goes_back_under_its_flattened_name(declared: bool, upstream: str) -> None:
    names = ToolMap()
    if declared:
        names.declare(Tool("function", "search", "mcp"))
    got = messages(call("c1", "search", "{}", namespace="mcp"), names=names)
    assert got[0]["tool_calls"][0]["function"]["name"] == upstream


def test_a_call_with_empty_arguments_sends_an_empty_object() -> None:
    assert messages(call("c1", arguments=""))[0]["tool_calls"][0]["function"]["arguments"] == "{}"


def sealed(family: str, fields: dict[str, Any] = FIELDS) -> dict[str, Any]:
    return {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": CARRIER.seal("reasoning", family, fields)}


@pytest.mark.parametrize("then", [call("c1"), {"role": "assistant", "content": "Paris is sunny."}])
def test_reasoning_goes_back_to_the_next_assistant_message_of_the_same_family(then: dict[str, Any]) -> None:
    assistant = messages({"role": "user", "content": "q"}, sealed("deepseek"), then, family="deepseek")[1]
    assert assistant["role"] == "assistant"
    assert {k: assistant[k] for k in FIELDS} == FIELDS


@pytest.mark.parametrize(
    "reasoning",
    [
        sealed("moonshotai"),  # another family's
        {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAAA-openai-own-blob"},
        {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": None},
        {**sealed("deepseek"), "encrypted_content": sealed("deepseek")["encrypted_content"][:-32] + "0" * 32},  # forged
        {**sealed("deepseek"), "encrypted_content": CARRIER.seal("compaction", "deepseek", FIELDS)},  # another kind
        {**sealed("deepseek"), "encrypted_content": Carrier(["another proxy"]).seal("reasoning", "deepseek", FIELDS)},
    ],
)
def test_reasoning_is_dropped_for_another_family_or_a_blob_this_proxy_did_not_seal(reasoning: dict[str, Any]) -> None:
    assistant = messages(reasoning, call("c1"), family="deepseek")[0]
    assert assistant == {"role": "assistant", "content": None, "tool_calls": [chat_call("c1")]}


def test_a_compaction_item_becomes_its_summary_as_a_user_message() -> None:
    blob = CARRIER.seal("compaction", "anything", {"summary": "We fixed the parser."})
    got = messages({"type": "compaction", "id": "cmp_1", "encrypted_content": blob}, {"role": "user", "content": "go on"})
    assert got == [{"role": "user", "content": SUMMARY_NOTE + "We fixed the parser."},
                   {"role": "user", "content": "go on"}]  # fmt: skip


def test_a_compaction_item_this_proxy_did_not_write_is_left_out(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "switchyard.responses"):
        assert messages({"type": "compaction", "encrypted_content": "openai-blob"}) == []
    assert "compaction item this proxy did not write" in caplog.text


@pytest.mark.parametrize("kind", ["item_reference", "compaction_trigger"])
def test_items_that_carry_nothing_for_the_model_are_ignored(kind: str) -> None:
    assert messages({"type": kind, "id": "x"}) == []


def test_an_item_with_no_chat_equivalent_is_left_out_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "switchyard.responses"):
        assert messages({"type": "web_search_call", "id": "ws_1"}) == []
    assert "'web_search_call' has no chat equivalent" in caplog.text


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("plain", "plain"),
        ([{"type": "input_text", "text": "a"}, {"type": "input_text", "text": "b"}], "ab"),
        ([{"type": "input_text", "text": "see"}, {"type": "input_image", "image_url": "data:image/png;base64,AA",
                                                   "detail": "low"}],
         [{"type": "text", "text": "see"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA",
                                                                               "detail": "low"}}]),
        ([{"type": "input_image", "image_url": "https://x/y.png", "detail": "original"}],
         [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]),
        ([{"type": "input_file", "filename": "a.pdf", "file_data": "data:application/pdf;base64,AA"}],
         [{"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,AA"}}]),
    ],
)  # fmt: skip
def test_user_content_parts(content: object, expected: object) -> None:
    assert messages({"role": "user", "content": content}) == [{"role": "user", "content": expected}]


@pytest.mark.parametrize(
    ("item", "param"),
    [
        ("text", "input.0"),
        ({"content": "no type, no role"}, "input.0.type"),
        ({"role": "tool", "content": "x"}, "input.0.role"),
        ({"role": "user", "content": 5}, "input.0.content"),
        ({"role": "user", "content": ["part"]}, "input.0.content.0"),
        ({"role": "user", "content": [{"type": "input_image", "file_id": "file-1"}]}, "input.0.content.0"),
        ({"role": "user", "content": [{"type": "input_file", "file_id": "file-1"}]}, "input.0.content.0.type"),
        ({"role": "user", "content": [{"type": "input_audio"}]}, "input.0.content.0.type"),
        ({"role": "system", "content": 5}, "input.0.content"),
        ({"type": "function_call", "name": "f", "arguments": "{}"}, "input.0"),
        ({"type": "function_call", "call_id": "c1", "arguments": "{}"}, "input.0"),
    ],
)
def test_malformed_items_are_400s_that_name_them(item: object, param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        messages(item)  # type: ignore[arg-type]
    assert caught.value.param == param
