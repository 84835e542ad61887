"""A chat completion as a Responses `response` (src/translation/responses_output.py): items, tools
mapped back, reasoning sealed for its family, status and usage."""

from __future__ import annotations

from typing import Any

import pytest

from src.translation.reasoning_carrier import Carrier
from src.translation.responses_output import Shape, chat_to_response, ending, message_item
from src.translation.responses_tools import Tool, ToolMap
from src.wire.errors import UpstreamProtocolError, UpstreamStatusError

CARRIER = Carrier(["proxy-secret-one"])
USAGE = {"prompt_tokens": 20, "completion_tokens": 8, "total_tokens": 28,
         "prompt_tokens_details": {"cached_tokens": 5}, "completion_tokens_details": {"reasoning_tokens": 3}}  # fmt: skip


def shape(**echo: Any) -> Shape:
    names = ToolMap()
    names.declare(Tool("function", "get_weather"))
    names.declare(Tool("custom", "apply_patch"))
    names.declare(Tool("function", "spawn_agent", "multi_agent_v1"))
    return Shape("client/model", names, CARRIER, "deepseek", echo)


def completion(message: dict[str, Any], finish: str | None = "stop", usage: object = USAGE) -> dict[str, Any]:
    return {"id": "gen-1", "object": "chat.completion", "model": "deepseek/deepseek-r1",
            "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}],
            "usage": usage}  # fmt: skip


def test_a_text_answer_is_one_message_item_with_usage() -> None:
    response = chat_to_response(completion({"content": "Hello"}), shape(instructions="Be kind", store=False))
    assert response["object"] == "response" and response["id"].startswith("resp_")
    assert response["model"] == "client/model" and response["status"] == "completed"
    assert response["incomplete_details"] is None and response["error"] is None
    [item] = response["output"]
    assert item["type"] == "message" and item["id"].startswith("msg_") and item["role"] == "assistant"
    assert item["status"] == "completed"
    assert item["content"] == [{"type": "output_text", "text": "Hello", "annotations": [], "logprobs": []}]
    assert response["usage"] == {"input_tokens": 20, "input_tokens_details": {"cached_tokens": 5}, "output_tokens": 8,
                                 "output_tokens_details": {"reasoning_tokens": 3}, "total_tokens": 28}  # fmt: skip
    assert response["instructions"] == "Be kind" and response["store"] is False  # the request's fields, echoed


def test_content_parts_are_joined() -> None:
    parts = [{"type": "text", "text": "Hel"}, {"type": "text", "text": "lo"}, {"type": "image"}]
    assert chat_to_response(completion({"content": parts}), shape())["output"][0]["content"][0]["text"] == "Hello"


def test_tool_calls_map_back_to_function_custom_and_namespaced_calls() -> None:
    calls = [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
        {"id": "call_2", "type": "function", "function": {"name": "apply_patch", "arguments": '{"input":"*** Begin"}'}},
        {"id": "call_3", "type": "function", "function": {"name": "multi_agent_v1__spawn_agent", "arguments": ""}},
        {"id": "call_4", "type": "function", "function": {"name": "", "arguments": "{}"}},  # cannot be run: left out
    ]
    output = chat_to_response(completion({"content": None, "tool_calls": calls}, "tool_calls"), shape())["output"]
    assert [{k: v for k, v in item.items() if k != "id"} for item in output] == [
        {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": '{"city":"Paris"}',
         "status": "completed"},
        {"type": "custom_tool_call", "call_id": "call_2", "name": "apply_patch", "input": "*** Begin",
         "status": "completed"},
        {"type": "function_call", "call_id": "call_3", "name": "spawn_agent", "arguments": "{}", "status": "completed",
         "namespace": "multi_agent_v1"},
    ]  # fmt: skip
    assert all(item["id"].startswith("fc_") for item in output)


def test_a_call_without_an_id_gets_one() -> None:
    calls = [{"type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]
    [item] = chat_to_response(completion({"tool_calls": calls}, "tool_calls"), shape())["output"]
    assert item["call_id"].startswith("call_") and len(item["call_id"]) > 5


@pytest.mark.parametrize(("arguments", "expected"), [('{"input": "raw text"}', "raw text"), ("not json", "not json"),
                                                      ('{"patch": "x"}', '{"patch": "x"}')])  # fmt: skip
def test_a_custom_tools_input_is_its_one_string_or_the_arguments_as_they_came(arguments: str, expected: str) -> None:
    calls = [{"id": "c", "type": "function", "function": {"name": "apply_patch", "arguments": arguments}}]
    assert chat_to_response(completion({"tool_calls": calls}), shape())["output"][0]["input"] == expected


@pytest.mark.parametrize(
    ("message", "summary", "fields"),
    [
        ({"reasoning_content": "Think.", "content": "A"}, "Think.", {"reasoning_content": "Think."}),
        ({"reasoning": "Think.", "content": "A"}, "Think.", {"reasoning": "Think."}),
        ({"reasoning": "Think.", "reasoning_details": [{"type": "reasoning.text", "text": "Think."}], "content": "A"},
         "Think.", {"reasoning": "Think.", "reasoning_details": [{"type": "reasoning.text", "text": "Think."}]}),
        ({"reasoning_details": [{"type": "reasoning.encrypted", "data": "opaque"}], "content": "A"},
         None, {"reasoning_details": [{"type": "reasoning.encrypted", "data": "opaque"}]}),
    ],
)  # fmt: skip
def test_reasoning_is_an_item_before_the_answer_whose_blob_carries_the_upstreams_fields(
    message: dict[str, Any], summary: str | None, fields: dict[str, Any]
) -> None:
    reasoning, answer = chat_to_response(completion(message), shape())["output"]
    assert reasoning["type"] == "reasoning" and reasoning["id"].startswith("rs_") and answer["type"] == "message"
    assert reasoning["summary"] == ([{"type": "summary_text", "text": summary}] if summary else [])
    assert CARRIER.open(reasoning["encrypted_content"], "reasoning") == ("deepseek", fields)


def test_no_reasoning_item_without_reasoning() -> None:
    assert [i["type"] for i in chat_to_response(completion({"content": "A", "reasoning": None}), shape())["output"]] == [
        "message"]


@pytest.mark.parametrize(
    ("finish", "status", "details"),
    [
        ("stop", "completed", None),
        ("tool_calls", "completed", None),
        (None, "completed", None),
        ("length", "incomplete", {"reason": "max_output_tokens"}),
        ("content_filter", "incomplete", {"reason": "content_filter"}),
    ],
)
def test_the_finish_reason_gives_the_status(finish: str | None, status: str, details: object) -> None:
    response = chat_to_response(completion({"content": "A"}, finish), shape())
    assert (response["status"], response["incomplete_details"]) == (status, details)
    assert ending(finish) == (status, details)


def test_an_in_band_error_is_raised_as_the_status_it_stands_for() -> None:
    failed = {**completion({"content": ""}, "error"), "error": {"code": 429, "message": "Rate limited upstream"}}
    with pytest.raises(UpstreamStatusError) as caught:
        chat_to_response(failed, shape())
    assert caught.value.status == 429 and "Rate limited upstream" in caught.value.message


@pytest.mark.parametrize("answer", [{"ok": True}, {"choices": "x"}, [1], None])
def test_something_that_is_no_chat_completion_is_a_protocol_error(answer: object) -> None:
    with pytest.raises(UpstreamProtocolError):
        chat_to_response(answer, shape())


def test_a_message_item_without_text_has_no_content_parts() -> None:
    assert message_item("msg_1", "", "in_progress") == {"type": "message", "id": "msg_1", "status": "in_progress",
                                                         "role": "assistant", "content": []}  # fmt: skip
