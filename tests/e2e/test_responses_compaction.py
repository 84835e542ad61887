"""Compaction: `POST /v1/responses/compact` summarises the conversation on the same route into a
`compaction` item; sent back, that item is its summary for the model; and the in-stream form (a
`compaction_trigger` input item) answers exactly one `compaction` item."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from src.config import Config
from src.frontends.responses_flow import COMPACT_PROMPT
from src.translation.responses_input import SUMMARY_NOTE
from tests.e2e.responses_helpers import answer_step, config, of_type, post, sdk, sent, stream
from tests.fakes.proxy import RunningProxy
from tests.fakes.scripted import ScriptedUpstream

MODEL = "vendor/coder"
SUMMARY = "The user wants a CSV parser; parse.py is written; tests still fail on quoted commas."
TOOLS = [{"type": "function", "name": "exec_command", "parameters": {"type": "object", "properties": {}}}]
HISTORY: list[dict[str, Any]] = [
    {"role": "user", "content": [{"type": "input_text", "text": "Write a CSV parser."}]},
    {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "On it."}]},
    {"type": "function_call", "call_id": "call_1", "name": "exec_command", "arguments": '{"cmd": "pytest"}'},
    {"type": "function_call_output", "call_id": "call_1", "output": "1 failed"},
    {"role": "user", "content": "Fix the quoted commas."},
]


@pytest.fixture
def proxy(scripted: ScriptedUpstream, start_proxy: Callable[[Config], RunningProxy]) -> RunningProxy:
    return start_proxy(config(scripted))


def compacted(proxy: RunningProxy, scripted: ScriptedUpstream) -> dict[str, Any]:
    scripted.script(MODEL, answer_step(MODEL, {"content": SUMMARY}, stream=False))
    reply = post(proxy, {"model": MODEL, "input": HISTORY, "instructions": "You are Codex.", "tools": TOOLS,
                         "parallel_tool_calls": True}, path="/v1/responses/compact")  # fmt: skip
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def test_compact_keeps_the_users_messages_and_adds_one_compaction_item(proxy: RunningProxy,
                                                                       scripted: ScriptedUpstream) -> None:
    body = compacted(proxy, scripted)
    *users, item = body["output"]
    assert users == [HISTORY[0], HISTORY[4]]
    assert item["type"] == "compaction" and item["encrypted_content"].startswith("sy1.")
    assert SUMMARY not in item["encrypted_content"]
    assert body["usage"]["input_tokens"] == 10 and body["usage"]["output_tokens"] == 4


def test_compact_asks_the_same_route_for_a_summary_without_tools(proxy: RunningProxy, scripted: ScriptedUpstream) -> None:
    compacted(proxy, scripted)
    [request] = scripted.requests
    assert request.model == MODEL and request.key == "sk-local-upstream-0001"
    assert not {"tools", "tool_choice", "parallel_tool_calls", "stream"} & request.body.keys()
    messages = request.body["messages"]
    assert messages[0] == {"role": "system", "content": "You are Codex."}
    assert [m["role"] for m in messages[1:]] == ["user", "assistant", "tool", "user", "user"]
    assert messages[-1] == {"role": "user", "content": COMPACT_PROMPT}


def test_the_compaction_item_sent_back_is_the_summary_as_a_user_message(proxy: RunningProxy,
                                                                        scripted: ScriptedUpstream) -> None:
    output = compacted(proxy, scripted)["output"]
    reply = sdk(proxy).responses.create(model=MODEL, input=[*output, {"role": "user", "content": "Go on."}])
    assert reply.output_text == f"Hello from {MODEL}"
    assert sent(scripted) == [
        {"role": "user", "content": "Write a CSV parser."},
        {"role": "user", "content": "Fix the quoted commas."},
        {"role": "user", "content": SUMMARY_NOTE + SUMMARY},
        {"role": "user", "content": "Go on."},
    ]


def test_a_compaction_item_from_elsewhere_is_left_out(proxy: RunningProxy, scripted: ScriptedUpstream) -> None:
    item = {"type": "compaction", "id": "cmp_openai", "encrypted_content": "gAAAAAB-openai-own"}
    assert post(proxy, {"model": MODEL, "input": [item, {"role": "user", "content": "Go on."}]}).status_code == 200
    assert sent(scripted) == [{"role": "user", "content": "Go on."}]


def test_a_compaction_trigger_answers_exactly_one_compaction_item(proxy: RunningProxy, scripted: ScriptedUpstream) -> None:
    scripted.script(MODEL, answer_step(MODEL, {"content": SUMMARY}, stream=False))
    body = {"model": MODEL, "input": [*HISTORY, {"type": "compaction_trigger"}], "tools": TOOLS}
    response = post(proxy, body).json()
    assert response["object"] == "response" and response["status"] == "completed"
    [item] = response["output"]
    assert item["type"] == "compaction" and item["encrypted_content"].startswith("sy1.")
    assert "tools" not in scripted.requests[-1].body
    assert sent(scripted, -1)[-1] == {"role": "user", "content": COMPACT_PROMPT}
    post(proxy, {"model": MODEL, "input": [item, {"role": "user", "content": "next"}]})
    assert sent(scripted)[0] == {"role": "user", "content": SUMMARY_NOTE + SUMMARY}


def test_a_streamed_compaction_trigger_answers_exactly_one_compaction_item(proxy: RunningProxy,
                                                                           scripted: ScriptedUpstream) -> None:
    scripted.script(MODEL, answer_step(MODEL, {"reasoning": "Summarise.", "content": SUMMARY}))
    events = stream(proxy, {"model": MODEL, "input": [*HISTORY, {"type": "compaction_trigger"}], "tools": TOOLS})
    [done] = of_type(events, "response.output_item.done")
    assert [e["item"]["type"] for e in of_type(events, "response.output_item.added")] == ["compaction"]
    assert not of_type(events, "response.output_text.delta")  # the summary is not shown as an answer
    assert events[-1]["type"] == "response.completed" and events[-1]["response"]["output"] == [done["item"]]
    post(proxy, {"model": MODEL, "input": [done["item"], {"role": "user", "content": "next"}]})
    assert sent(scripted)[0] == {"role": "user", "content": SUMMARY_NOTE + SUMMARY}


def test_compact_answers_whole_even_when_the_body_asks_for_a_stream(proxy: RunningProxy,
                                                                    scripted: ScriptedUpstream) -> None:
    reply = post(proxy, {"model": MODEL, "input": HISTORY, "stream": True}, path="/v1/responses/compact")
    assert reply.status_code == 200, reply.text
    assert reply.json()["output"][-1]["type"] == "compaction"
