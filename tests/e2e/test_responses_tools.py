"""Tools through `/v1/responses` onto a chat upstream: a function-call round trip (whole and streamed),
custom (freeform) tools, namespace groups, and hosted tools left out."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest

from src.config import Config
from tests.e2e.responses_helpers import MODEL, calls_step, config, of_type, post, sdk, sent, stream
from tests.fakes.proxy import RunningProxy
from tests.fakes.scripted import ScriptedUpstream

WEATHER: Any = {"type": "function", "name": "get_weather", "description": "Weather for a city.", "strict": True,
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
                          "additionalProperties": False}}  # fmt: skip
PATCH = {"type": "custom", "name": "apply_patch", "description": "Edit files with a patch.",
         "format": {"type": "grammar", "syntax": "lark", "definition": 'start: "*** Begin Patch" /.+/'}}  # fmt: skip
DOCS = {"type": "namespace", "name": "docs", "description": "The docs MCP server.", "tools": [
    {"type": "function", "name": "search", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}]}
PATCH_TEXT = "*** Begin Patch\n*** Add File: a.txt\n+hi\n*** End Patch"


@pytest.fixture
def proxy(scripted: ScriptedUpstream, start_proxy: Callable[[Config], RunningProxy]) -> RunningProxy:
    return start_proxy(config(scripted))


def upstream_tools(scripted: ScriptedUpstream, index: int = -1) -> dict[str, dict[str, Any]]:
    return {t["function"]["name"]: t["function"] for t in scripted.requests[index].body.get("tools", [])}


@pytest.mark.parametrize("streamed", [False, True])
def test_a_function_call_round_trip(proxy: RunningProxy, scripted: ScriptedUpstream, streamed: bool) -> None:
    scripted.script(MODEL, calls_step(MODEL, ("call_w1", "get_weather", '{"city": "Paris"}'), stream=streamed))
    client = sdk(proxy)
    question: Any = [{"role": "user", "content": "Weather in Paris?"}]
    first: Any
    if streamed:
        with client.responses.stream(model=MODEL, input=question, tools=[WEATHER]) as events:
            first = events.get_final_response()
    else:
        first = client.responses.create(model=MODEL, input=question, tools=[WEATHER])
    [call] = first.output
    assert call.type == "function_call"
    assert (call.call_id, call.name, json.loads(call.arguments)) == ("call_w1", "get_weather", {"city": "Paris"})
    assert upstream_tools(scripted)["get_weather"]["parameters"] == WEATHER["parameters"]

    result: Any = {"type": "function_call_output", "call_id": call.call_id, "output": "18 C and sunny"}
    second = client.responses.create(model=MODEL, input=[*question, call.model_dump(exclude_none=True), result],
                                     tools=[WEATHER])  # fmt: skip
    assert second.output_text == f"Hello from {MODEL}"
    assert sent(scripted) == [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_w1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
        {"role": "tool", "tool_call_id": "call_w1", "content": "18 C and sunny"},
    ]  # fmt: skip


def test_parallel_calls_are_each_whole_in_their_done_event(proxy: RunningProxy, scripted: ScriptedUpstream) -> None:
    scripted.script(MODEL, calls_step(MODEL, ("call_a", "get_weather", '{"city": "Paris"}'),
                                      ("call_b", "get_weather", '{"city": "Rome"}')))  # fmt: skip
    events = stream(proxy, {"model": MODEL, "input": "Paris and Rome?", "tools": [WEATHER]})
    done = [e["item"] for e in of_type(events, "response.output_item.done")]
    assert [(d["call_id"], json.loads(d["arguments"])) for d in done] == [("call_a", {"city": "Paris"}),
                                                                          ("call_b", {"city": "Rome"})]  # fmt: skip
    assert [e["output_index"] for e in of_type(events, "response.output_item.done")] == [0, 1]


@pytest.mark.parametrize("streamed", [False, True])
def test_a_custom_tool_is_a_one_string_function_upstream_and_a_custom_tool_call_back(
    proxy: RunningProxy, scripted: ScriptedUpstream, streamed: bool
) -> None:
    scripted.script(MODEL, calls_step(MODEL, ("call_p1", "apply_patch", json.dumps({"input": PATCH_TEXT})),
                                      stream=streamed))  # fmt: skip
    body = {"model": MODEL, "input": "Add a.txt", "tools": [PATCH]}
    if streamed:
        events = stream(proxy, body)
        assert of_type(events, "response.custom_tool_call_input.done")[0]["input"] == PATCH_TEXT
        output = events[-1]["response"]["output"]
    else:
        output = post(proxy, body).json()["output"]
    declared = upstream_tools(scripted)["apply_patch"]
    assert declared["parameters"]["properties"] == {"input": {"type": "string",
                                                              "description": "The tool's whole input, as free text."}}
    assert declared["parameters"]["required"] == ["input"] and "lark grammar" in declared["description"]
    [call] = output
    assert (call["type"], call["call_id"], call["name"], call["input"]) == ("custom_tool_call", "call_p1",
                                                                            "apply_patch", PATCH_TEXT)  # fmt: skip
    result = {"type": "custom_tool_call_output", "call_id": "call_p1", "output": "Success. Updated a.txt"}
    assert post(proxy, {**body, "input": [{"role": "user", "content": "Add a.txt"}, call, result]}).status_code == 200
    assistant, tool = sent(scripted)[1:]
    assert assistant["tool_calls"][0]["function"]["name"] == "apply_patch"
    assert json.loads(assistant["tool_calls"][0]["function"]["arguments"]) == {"input": PATCH_TEXT}
    assert tool == {"role": "tool", "tool_call_id": "call_p1", "content": "Success. Updated a.txt"}


@pytest.mark.parametrize("streamed", [False, True])
def test_a_namespace_group_is_flattened_and_its_calls_come_back_with_their_namespace(
    proxy: RunningProxy, scripted: ScriptedUpstream, streamed: bool
) -> None:
    scripted.script(MODEL, calls_step(MODEL, ("call_d1", "docs__search", '{"q": "sse"}'), stream=streamed))
    body = {"model": MODEL, "input": "Search the docs", "tools": [WEATHER, DOCS]}
    output = stream(proxy, body)[-1]["response"]["output"] if streamed else post(proxy, body).json()["output"]
    assert sorted(upstream_tools(scripted)) == ["docs__search", "get_weather"]
    [call] = output
    assert (call["type"], call["name"], call["namespace"], call["call_id"]) == ("function_call", "search", "docs",
                                                                                "call_d1")  # fmt: skip
    result = {"type": "function_call_output", "call_id": "call_d1", "output": "3 hits"}
    assert post(proxy, {**body, "input": [call, result]}).status_code == 200
    assert sent(scripted)[0]["tool_calls"][0]["function"]["name"] == "docs__search"
    assert sent(scripted)[1] == {"role": "tool", "tool_call_id": "call_d1", "content": "3 hits"}


def test_tool_choice_names_the_upstream_tool(proxy: RunningProxy, scripted: ScriptedUpstream) -> None:
    body = {"model": MODEL, "input": "x", "tools": [DOCS], "tool_choice": {"type": "function", "name": "search",
                                                                           "namespace": "docs"}}  # fmt: skip
    assert post(proxy, body).status_code == 200
    assert scripted.requests[-1].body["tool_choice"] == {"type": "function", "function": {"name": "docs__search"}}


def test_hosted_tools_are_left_out_with_a_warning(proxy: RunningProxy, scripted: ScriptedUpstream,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    body = {"model": MODEL, "input": "news?", "tools": [{"type": "web_search"}, WEATHER, {"type": "file_search",
                                                                                         "vector_store_ids": ["vs"]}]}
    with caplog.at_level(logging.WARNING, "switchyard.responses"):
        assert post(proxy, body).status_code == 200
    assert list(upstream_tools(scripted)) == ["get_weather"]
    warnings = [r.getMessage() for r in caplog.records if r.name == "switchyard.responses"]
    assert any("'web_search'" in w for w in warnings) and any("'file_search'" in w for w in warnings)


def test_only_hosted_tools_send_no_tools_at_all(proxy: RunningProxy, scripted: ScriptedUpstream) -> None:
    body = {"model": MODEL, "input": "news?", "tools": [{"type": "web_search"}], "tool_choice": "required",
            "parallel_tool_calls": True}  # fmt: skip
    assert post(proxy, body).status_code == 200
    assert not {"tools", "tool_choice", "parallel_tool_calls"} & scripted.requests[-1].body.keys()
