"""Edges of `/v1/messages` on translated routes: upstreams that ignore `stream`, answers that are not
completions, hybrid routes, hang-ups and the loop guard."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import anthropic
import httpx
import pytest

from src.config import Config
from tests.e2e.anthropic_helpers import (  # noqa: F401 - fixtures
    USER,
    local_config,
    make_config,
    openai_backend,
    post,
    sdk,
    sse_events,
)
from tests.fakes.proxy import PROXY_KEY, RunningProxy
from tests.fakes.scripted import ScriptedUpstream, Step, reasoning_events
from tests.fakes.upstream import FakeUpstream

StartProxy = Callable[[Config], RunningProxy]
REASONING = "The user greets me. A short, friendly reply fits."


def _final(proxy: RunningProxy, model: str, stream: bool, **kwargs: Any) -> anthropic.types.Message:
    client = sdk(proxy)
    if stream:
        with client.messages.stream(model=model, max_tokens=64, messages=USER, **kwargs) as events:
            return events.get_final_message()
    return client.messages.create(model=model, max_tokens=64, messages=USER, **kwargs)


def test_an_upstream_that_ignores_stream_is_replayed_as_an_anthropic_stream(upstream: FakeUpstream,
                                                                            start_proxy: StartProxy) -> None:
    proxy = start_proxy(local_config(upstream.base_url))

    message = _final(proxy, "ignores-stream", stream=True)
    tools = _final(proxy, "ignores-stream-tools", stream=True,
                   tools=[{"name": n, "input_schema": {"type": "object"}} for n in ("get_weather", "get_time")])

    assert [(b.type, b.text) for b in message.content] == [("text", "Hello from ignores-stream")]  # type: ignore[union-attr]
    assert [(b.type, b.input) for b in tools.content] == [  # type: ignore[union-attr]
        ("tool_use", {"city": "Paris"}), ("tool_use", {"tz": "Europe/Paris"})]
    assert tools.stop_reason == "tool_use"
    assert all(r.body["stream"] is True for r in upstream.requests if r.method == "POST")


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_an_answer_that_is_not_a_completion_is_a_502(upstream: FakeUpstream, start_proxy: StartProxy,
                                                     stream: bool) -> None:
    proxy = start_proxy(local_config(upstream.base_url, failover={"max_attempts": 1}))

    response = post(proxy, {"model": "ignores-stream-not-completion", "max_tokens": 8, "messages": USER,
                            "stream": stream})

    # Read whole before the stream is committed to: a failure another route could still be tried for.
    assert response.status_code == 502
    assert response.json()["error"]["type"] == "api_error"
    expected = "neither a stream nor a chat completion" if stream else "not a chat completion"
    assert expected in response.json()["error"]["message"]


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_a_hybrid_route_answers_with_its_reasoning_as_a_thinking_block(scripted: ScriptedUpstream,
                                                                       start_proxy: StartProxy, stream: bool) -> None:
    backends = {"or": openai_backend(scripted.base_url),
                "h": {"type": "hybrid", "reasoning_model": "or:r1", "execution_model": "or:small",
                      "reasoning_timeout": 2}}
    proxy = start_proxy(make_config(backends))
    scripted.script("r1", Step(events=reasoning_events("r1", REASONING, "never used")))

    message = _final(proxy, "h", stream)

    assert [b.type for b in message.content] == ["thinking", "text"]
    assert message.content[0].thinking == REASONING  # type: ignore[union-attr]
    assert message.content[1].text == "Hello from small"  # type: ignore[union-attr]
    assert scripted.models() == ["r1", "small"]
    assert REASONING in str(scripted.requests[1].body["messages"])


def test_a_client_that_hangs_up_mid_stream_stops_the_upstream(upstream: FakeUpstream,
                                                              start_proxy: StartProxy) -> None:
    proxy = start_proxy(local_config(upstream.base_url))
    body = {"model": "slow", "max_tokens": 8, "messages": USER, "stream": True}

    with httpx.stream("POST", f"{proxy.url}/v1/messages", json=body, headers={"x-api-key": PROXY_KEY},
                      timeout=10) as response:
        for _ in response.iter_bytes():
            break  # the first bytes are in: hang up

    deadline = time.monotonic() + 3
    while "slow" not in upstream.aborted and time.monotonic() < deadline:
        time.sleep(0.02)
    assert "slow" in upstream.aborted


def test_a_request_from_a_proxy_is_refused_in_the_anthropic_envelope(scripted: ScriptedUpstream,
                                                                    start_proxy: StartProxy) -> None:
    proxy = start_proxy(local_config(scripted.base_url))

    response = post(proxy, {"model": "m", "max_tokens": 8, "messages": USER}, headers={"x-switchyard-hop": "1"})

    assert response.status_code == 508
    assert response.json()["type"] == "error" and response.json()["error"]["type"] == "api_error"
    assert scripted.requests == []


def test_a_stream_flag_that_is_not_a_boolean_is_a_bad_request(scripted: ScriptedUpstream,
                                                              start_proxy: StartProxy) -> None:
    proxy = start_proxy(local_config(scripted.base_url))

    response = post(proxy, {"model": "m", "max_tokens": 8, "messages": USER, "stream": "yes"})

    assert response.status_code == 400
    assert "stream" in response.json()["error"]["message"]
    assert scripted.requests == []
