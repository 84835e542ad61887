"""Reasoning through `/v1/responses`: the upstream's `reasoning`, `reasoning_content` or
`reasoning_details` come back as a `reasoning` item whose `encrypted_content`, sent back, restores
them for a model of the same family and is dropped for another."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from src.config import Config
from tests.e2e.responses_helpers import answer_step, config, of_type, post, sdk, sent, stream
from tests.fakes.proxy import RunningProxy
from tests.fakes.scripted import ScriptedUpstream, Step

DEEPSEEK, DEEPSEEK_CHAT, KIMI = "deepseek/deepseek-r1", "deepseek/deepseek-chat", "moonshotai/kimi-k2"
CALL = {"id": "call_r1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}
WEATHER = {"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {}}}
DETAILS = [{"type": "reasoning.text", "text": "Oslo weather needs a lookup.", "signature": "sig==", "format": "x"}]
FIELDS: list[dict[str, Any]] = [
    {"reasoning_content": "Oslo weather needs a lookup."},
    {"reasoning": "Oslo weather needs a lookup."},
    {"reasoning": "Oslo weather needs a lookup.", "reasoning_details": DETAILS},
    {"reasoning_details": [{"type": "reasoning.encrypted", "data": "opaque-provider-blob"}]},
]


@pytest.fixture
def proxy(scripted: ScriptedUpstream, start_proxy: Callable[[Config], RunningProxy]) -> RunningProxy:
    return start_proxy(config(scripted))


def first_turn(proxy: RunningProxy, scripted: ScriptedUpstream, fields: dict[str, Any], streamed: bool) -> list[dict[str, Any]]:
    """The output of a turn whose upstream reasons with `fields`, then calls get_weather."""
    scripted.script(DEEPSEEK, answer_step(DEEPSEEK, {**fields, "content": None, "tool_calls": [
        {"index": 0, **CALL}] if streamed else [CALL]}, "tool_calls", stream=streamed))  # fmt: skip
    body = {"model": DEEPSEEK, "input": "Weather in Oslo?", "tools": [WEATHER], "include": ["reasoning.encrypted_content"]}
    output: list[dict[str, Any]] = stream(proxy, body)[-1]["response"]["output"] if streamed else post(proxy, body).json()["output"]
    return output


def next_turn(proxy: RunningProxy, model: str, output: list[dict[str, Any]]) -> None:
    result = {"type": "function_call_output", "call_id": "call_r1", "output": "-3 C"}
    body = {"model": model, "tools": [WEATHER], "input": [{"role": "user", "content": "Weather in Oslo?"}, *output, result]}
    assert post(proxy, body).status_code == 200


CASES = [pytest.param(fields, streamed, id=f"{'+'.join(fields)}-{'streamed' if streamed else 'whole'}")
         for fields in FIELDS for streamed in (False, True)]  # fmt: skip


@pytest.mark.parametrize(("fields", "streamed"), CASES)
def test_reasoning_is_restored_for_the_same_family(proxy: RunningProxy, scripted: ScriptedUpstream,
                                                   fields: dict[str, Any], streamed: bool) -> None:
    output = first_turn(proxy, scripted, fields, streamed)
    assert [item["type"] for item in output] == ["reasoning", "function_call"]
    reasoning = output[0]
    assert reasoning["id"].startswith("rs_") and reasoning["encrypted_content"].startswith("sy1.")
    assert "Oslo" not in reasoning["encrypted_content"]  # sealed, not readable as it is
    next_turn(proxy, DEEPSEEK_CHAT, output)  # another DeepSeek model: the same family
    assistant = sent(scripted)[1]
    assert assistant["tool_calls"] == [CALL]
    assert {k: assistant[k] for k in ("reasoning", "reasoning_content", "reasoning_details") if k in assistant} == fields


@pytest.mark.parametrize("streamed", [False, True])
def test_reasoning_is_dropped_for_another_family(proxy: RunningProxy, scripted: ScriptedUpstream, streamed: bool) -> None:
    output = first_turn(proxy, scripted, FIELDS[0], streamed)
    next_turn(proxy, KIMI, output)
    assert sent(scripted)[1] == {"role": "assistant", "content": None, "tool_calls": [CALL]}


def test_the_reasoning_text_is_the_items_summary(proxy: RunningProxy, scripted: ScriptedUpstream) -> None:
    output = first_turn(proxy, scripted, FIELDS[0], streamed=False)
    assert output[0]["summary"] == [{"type": "summary_text", "text": "Oslo weather needs a lookup."}]


def test_a_streamed_reasoning_summary_arrives_before_the_answer(proxy: RunningProxy, scripted: ScriptedUpstream) -> None:
    scripted.script(DEEPSEEK, answer_step(DEEPSEEK, {"reasoning_content": "Think first.", "content": "Done."}))
    events = stream(proxy, {"model": DEEPSEEK, "input": "go"})
    kinds = [e["type"] for e in events]
    assert kinds.index("response.reasoning_summary_text.delta") < kinds.index("response.output_text.delta")
    assert of_type(events, "response.reasoning_summary_text.done")[0]["text"] == "Think first."


def test_the_sdk_round_trips_the_reasoning_item(proxy: RunningProxy, scripted: ScriptedUpstream) -> None:
    scripted.script(DEEPSEEK, answer_step(DEEPSEEK, {"reasoning_content": "Hmm.", "content": None,
                                                     "tool_calls": [CALL]}, "tool_calls", stream=False))  # fmt: skip
    client = sdk(proxy)
    first = client.responses.create(model=DEEPSEEK, input="Weather in Oslo?", tools=[WEATHER])  # type: ignore[list-item]
    items = [item.model_dump(exclude_none=True) for item in first.output]
    result = {"type": "function_call_output", "call_id": "call_r1", "output": "-3 C"}
    client.responses.create(model=DEEPSEEK, input=[*items, result], tools=[WEATHER])  # type: ignore[list-item]
    assert sent(scripted)[0]["reasoning_content"] == "Hmm."


def test_a_failover_to_another_family_sends_it_no_reasoning(scripted: ScriptedUpstream, start_proxy: Callable[[Config],
                                                            RunningProxy]) -> None:  # fmt: skip
    proxy = start_proxy(config(scripted, failover_routes={f"local:{DEEPSEEK}": [f"local:{KIMI}"]}))
    output = first_turn(proxy, scripted, FIELDS[0], streamed=False)
    scripted.reset()
    scripted.script(DEEPSEEK, Step(status=429))
    next_turn(proxy, DEEPSEEK, output)
    assert scripted.models() == [DEEPSEEK, KIMI]
    assert scripted.requests[0].body["messages"][1]["reasoning_content"] == FIELDS[0]["reasoning_content"]
    assert "reasoning_content" not in scripted.requests[1].body["messages"][1]  # translated again, for its family
