"""The hybrid's two phases: reasoning read from a stream and cut short, then the answer built on it.

Backend `h` reasons on or:r1 and answers with or:small (tests/e2e/failover_helpers.py).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

import openai
import pytest
from openai.types import CompletionUsage
from openai.types.chat import ChatCompletionFunctionToolParam, ChatCompletionMessageFunctionToolCall

from src.config import Config
from tests.e2e.failover_helpers import (  # noqa: F401 - fixtures
    MESSAGES,
    REASONING,
    hybrid_backends,
    make_config,
    proxy_pool,
    reasoning_of,
    sdk,
    shared_proxy_fixture,
    wait_until,
)
from tests.fakes.proxy import RunningProxy
from tests.fakes.scripted import (
    USAGE,
    Event,
    ScriptedUpstream,
    Step,
    chunk,
    error_event,
    reasoning_events,
    usage_chunk,
)

STREAM = pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
StartProxy = Callable[[Config], RunningProxy]
BLOCK = f"<reasoning>\n{REASONING}\n</reasoning>\n"


@pytest.mark.parametrize("style", ["reasoning", "reasoning_content", "think"])
@STREAM
def test_reasoning_is_captured_and_the_reasoning_model_stopped(
    scripted: ScriptedUpstream, shared_proxy: StartProxy, style: str, stream: bool
) -> None:
    proxy = shared_proxy(make_config(hybrid_backends(scripted.base_url)))
    events = reasoning_events("r1", REASONING, "an answer nobody should pay for", style)
    first_answer = next(i for i, e in enumerate(events) if isinstance(e, dict) and e["choices"][0]["delta"].get(
        "content", "").startswith("an"))
    # A <think> block ends at </think>, before any answer; a reasoning field ends only when the first
    # answer token shows up. The upstream pauses right after that point: the proxy must hang up there.
    pause = first_answer if style == "think" else first_answer + 1
    scripted.script("r1", Step(events=events, pause_after=pause))

    text, reasoning, _ = reasoning_of(sdk(proxy), "h", stream)

    assert (text, reasoning) == ("Hello from small", REASONING)
    assert wait_until(lambda: "r1" in scripted.aborted)
    phase1 = scripted.requests[0].body
    assert (phase1["stream"], phase1["stream_options"]) == (True, {"include_usage": True})


@STREAM
def test_the_reasoning_is_appended_to_the_system_message(
    scripted: ScriptedUpstream, shared_proxy: StartProxy, stream: bool
) -> None:
    proxy = shared_proxy(make_config(hybrid_backends(scripted.base_url)))
    scripted.script("r1", Step(events=reasoning_events("r1", REASONING, "x")))
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]

    reasoning_of(sdk(proxy), "h", stream, messages=messages)

    phase1, phase2 = scripted.requests
    assert phase1.body["messages"] == messages  # the reasoning model sees the conversation as sent
    system, user = phase2.body["messages"]
    assert system["role"] == "system" and system["content"].startswith(f"Be brief.\n\n{BLOCK}")
    assert user == messages[1]


@STREAM
def test_without_a_system_message_the_reasoning_becomes_one(
    scripted: ScriptedUpstream, shared_proxy: StartProxy, stream: bool
) -> None:
    proxy = shared_proxy(make_config(hybrid_backends(scripted.base_url)))
    scripted.script("r1", Step(events=reasoning_events("r1", REASONING, "x", "think")))

    reasoning_of(sdk(proxy), "h", stream)

    first, *rest = scripted.requests[1].body["messages"]
    assert first["role"] == "system" and first["content"].startswith(BLOCK)
    assert rest == MESSAGES


PHASE1_USAGE = {"prompt_tokens": 7, "completion_tokens": 30, "total_tokens": 37, "cost": 0.002}
SUMMED = {key: USAGE[key] + PHASE1_USAGE[key] for key in ("prompt_tokens", "completion_tokens", "total_tokens")}
THINKING = chunk("r1", {"role": "assistant", "content": "", "reasoning": REASONING})


@STREAM
def test_usage_is_the_sum_of_both_phases(scripted: ScriptedUpstream, shared_proxy: StartProxy, stream: bool) -> None:
    # Regression: phase 1 used to stop reading at finish_reason, before the usage chunk that follows it.
    proxy = shared_proxy(make_config(hybrid_backends(scripted.base_url)))
    ends_by_itself: list[Event] = [THINKING, chunk("r1", {}, "stop"), usage_chunk("r1", PHASE1_USAGE), "data: [DONE]"]
    scripted.script("r1", Step(events=ends_by_itself))

    usage = _usage(sdk(proxy), stream)

    assert usage == SUMMED


@STREAM
def test_usage_sent_with_the_finish_chunk_is_summed(
    scripted: ScriptedUpstream, shared_proxy: StartProxy, stream: bool
) -> None:
    proxy = shared_proxy(make_config(hybrid_backends(scripted.base_url)))
    finish = {**chunk("r1", {}, "stop"), "usage": PHASE1_USAGE}
    scripted.script("r1", Step(events=[THINKING, finish, "data: [DONE]"]))

    assert _usage(sdk(proxy), stream) == SUMMED


def _usage(client: openai.OpenAI, stream: bool) -> dict[str, int]:
    if stream:
        chunks = list(client.chat.completions.create(model="h", messages=MESSAGES, stream=True))
        usage: CompletionUsage | None = [c.usage for c in chunks if c.usage is not None][-1]
    else:
        usage = client.chat.completions.create(model="h", messages=MESSAGES).usage
    return {key: getattr(usage, key) for key in SUMMED}


PHASE1_FAILURES = {
    "status-500": Step(status=500),
    "error-event": Step(events=[error_event("r1", 502)]),
    "dropped": Step(drop=True),
}


@pytest.mark.parametrize("failure", list(PHASE1_FAILURES.values()), ids=list(PHASE1_FAILURES))
@STREAM
def test_a_failed_reasoning_phase_still_answers_without_reasoning(
    scripted: ScriptedUpstream,
    shared_proxy: StartProxy,
    caplog: pytest.LogCaptureFixture,
    stream: bool,
    failure: Step,
) -> None:
    caplog.set_level(logging.WARNING, logger="switchyard.hybrid")
    proxy = shared_proxy(make_config(hybrid_backends(scripted.base_url)))
    scripted.script("r1", failure)

    text, reasoning, headers = reasoning_of(sdk(proxy), "h", stream)

    assert (text, reasoning) == ("Hello from small", None)
    assert headers["x-switchyard-attempts"] == "1"
    assert scripted.requests[-1].body["messages"] == MESSAGES  # no reasoning block
    [warning] = [r for r in caplog.records if r.name == "switchyard.hybrid"]
    assert warning.levelno == logging.WARNING
    assert "or:r1" in warning.getMessage() and "answering without reasoning" in warning.getMessage()


@STREAM
def test_a_slow_reasoning_phase_is_cut_at_reasoning_timeout(
    scripted: ScriptedUpstream, shared_proxy: StartProxy, caplog: pytest.LogCaptureFixture, stream: bool
) -> None:
    caplog.set_level(logging.WARNING, logger="switchyard.hybrid")
    proxy = shared_proxy(make_config(hybrid_backends(scripted.base_url, reasoning_timeout=0.5)))
    scripted.script("r1", Step(events=reasoning_events("r1", REASONING, "late"), stall_after=1))
    started = time.monotonic()

    text, reasoning, _ = reasoning_of(sdk(proxy), "h", stream)

    assert 0.45 < time.monotonic() - started < 1.5
    assert (text, reasoning) == ("Hello from small", None)
    assert scripted.models() == ["r1", "small"]
    assert any("no reasoning within 0.5s" in r.getMessage() for r in caplog.records if r.name == "switchyard.hybrid")


CALLS: list[Event] = [
    chunk("r1", {"role": "assistant", "content": None, "tool_calls": [
        {"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]}),
    chunk("r1", {"tool_calls": [{"index": 0, "function": {"arguments": '{"city": "Par'}}]}),
    chunk("r1", {"tool_calls": [{"index": 0, "function": {"arguments": 'is", "unit": "C"}'}}]}),
    chunk("r1", {"tool_calls": [
        {"index": 1, "id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}]}),
    chunk("r1", {}, "tool_calls"),
    usage_chunk("r1"),
    "data: [DONE]",
]
TOOLS: list[ChatCompletionFunctionToolParam] = [
    {"type": "function", "function": {"name": name, "parameters": {"type": "object"}}}
    for name in ("get_weather", "get_time")
]


@STREAM
def test_tool_calls_without_reasoning_are_the_answer(
    scripted: ScriptedUpstream, shared_proxy: StartProxy, stream: bool
) -> None:
    proxy = shared_proxy(make_config(hybrid_backends(scripted.base_url)))
    scripted.script("r1", Step(events=CALLS))
    client = sdk(proxy)

    if stream:
        calls: dict[int, dict[str, str]] = {}
        finish = None
        for c in client.chat.completions.create(model="h", messages=MESSAGES, tools=TOOLS, stream=True):
            for delta in (c.choices[0].delta.tool_calls or []) if c.choices else []:
                call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
                call["id"] += delta.id or ""
                assert delta.function is not None
                call["name"] += delta.function.name or ""
                call["arguments"] += delta.function.arguments or ""
            finish = c.choices[0].finish_reason if c.choices and c.choices[0].finish_reason else finish
        got = [(call["id"], call["name"], call["arguments"]) for _, call in sorted(calls.items())]
    else:
        choice = client.chat.completions.create(model="h", messages=MESSAGES, tools=TOOLS).choices[0]
        finish = choice.finish_reason
        functions = [c for c in choice.message.tool_calls or [] if isinstance(c, ChatCompletionMessageFunctionToolCall)]
        got = [(call.id, call.function.name, call.function.arguments) for call in functions]

    assert got == [("call_1", "get_weather", '{"city": "Paris", "unit": "C"}'), ("call_2", "get_time", "{}")]
    assert json.loads(got[0][2]) == {"city": "Paris", "unit": "C"}
    assert finish == "tool_calls"
    assert scripted.models() == ["r1"]  # the execution model was never asked
    assert scripted.requests[0].body["tools"] == TOOLS
