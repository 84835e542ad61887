"""Streams: a failure before the first event fails over unseen; one after content is never retried."""

from __future__ import annotations

import json
from collections.abc import Callable

import openai
import pytest

from src.config import Config
from tests.e2e.failover_helpers import (  # noqa: F401 - fixtures
    KEYS,
    MESSAGES,
    backend,
    make_config,
    proxy_pool,
    raw_post,
    sdk,
    shared_proxy_fixture,
)
from tests.fakes.proxy import RunningProxy
from tests.fakes.scripted import Event, ScriptedUpstream, Step, answer_events, chunk, error_event

StartProxy = Callable[[Config], RunningProxy]
ROUTES = {"a:m1": ["b:m2"]}


def _config(url: str, **failover: float) -> Config:
    backends = {"a": backend(url, KEYS["a"], timeout=0.4), "b": backend(url, KEYS["b"])}
    return make_config(backends, failover_routes=ROUTES, failover=failover)


EARLY_FAILURES = {
    "error-event-first": Step(events=[": OPENROUTER PROCESSING", error_event("m1", 502), "data: [DONE]"]),
    "error-event-with-429": Step(events=[error_event("m1", 429, "rate limited upstream")]),
    "dropped-before-answering": Step(drop=True),
    "ended-with-no-events": Step(events=[]),
    "only-keepalives-then-end": Step(events=[": OPENROUTER PROCESSING", ": OPENROUTER PROCESSING"]),
    "stall-before-first-event": Step(stall=3),
}


@pytest.mark.parametrize("step", list(EARLY_FAILURES.values()), ids=list(EARLY_FAILURES))
def test_a_stream_failing_before_its_first_event_fails_over_unseen(
    scripted: ScriptedUpstream, shared_proxy: StartProxy, step: Step
) -> None:
    proxy = shared_proxy(_config(scripted.base_url, connect_retries=0))
    scripted.script("m1", step)

    raw = sdk(proxy).chat.completions.with_raw_response.create(model="a:m1", messages=MESSAGES, stream=True)
    chunks = list(raw.parse())

    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello from m2"
    assert {c.model for c in chunks} == {"m2"}  # one stream, all of it the fallback's
    assert (raw.headers["x-switchyard-route"], raw.headers["x-switchyard-attempts"]) == ("b:m2", "2")
    assert scripted.models() == ["m1", "m2"]


def test_the_client_sees_one_clean_sse_stream_after_a_hidden_failover(
    scripted: ScriptedUpstream, shared_proxy: StartProxy
) -> None:
    proxy = shared_proxy(_config(scripted.base_url))
    scripted.script("m1", Step(events=[error_event("m1", 503), "data: [DONE]"]))

    response = raw_post(proxy, {"model": "a:m1", "messages": MESSAGES, "stream": True})

    assert response.status_code == 200
    events = [e for e in response.text.split("\n\n") if e.strip()]
    payloads = [json.loads(e.removeprefix("data: ")) for e in events if e.startswith("data: {")]
    assert response.text.count("data: [DONE]") == 1 and events[-1] == "data: [DONE]"
    assert all("error" not in p for p in payloads)
    assert {p["model"] for p in payloads} == {"m2"}
    assert events == [e.strip("\n") for e in _sse(answer_events("m2"))]


def _sse(events: list[Event]) -> list[str]:
    return [e if isinstance(e, str) else f"data: {json.dumps(e)}" for e in events]


def test_a_dropped_stream_is_retried_on_its_own_route_first(
    scripted: ScriptedUpstream, shared_proxy: StartProxy
) -> None:
    proxy = shared_proxy(_config(scripted.base_url))  # connect_retries: 2
    scripted.script("m1", Step(drop=True))

    raw = sdk(proxy).chat.completions.with_raw_response.create(model="a:m1", messages=MESSAGES, stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)

    assert text == "Hello from m1"
    assert (raw.headers["x-switchyard-route"], raw.headers["x-switchyard-attempts"]) == ("a:m1", "2")
    assert scripted.models() == ["m1", "m1"]


CONTENT: list[Event] = [chunk("m1", {"role": "assistant", "content": ""}), chunk("m1", {"content": "Half an"}),
                        chunk("m1", {"content": " answer"})]
LATE_FAILURES = {
    "error-event-after-content": Step(events=[*CONTENT, error_event("m1", 502, "provider died")]),
    "stall-after-content": Step(events=[*CONTENT, chunk("m1", {}, "stop"), "data: [DONE]"], stall_after=3),
    "dropped-after-content": Step(events=CONTENT),
}


@pytest.mark.parametrize("step", list(LATE_FAILURES.values()), ids=list(LATE_FAILURES))
def test_a_failure_after_content_ends_the_stream_with_an_error(
    scripted: ScriptedUpstream, shared_proxy: StartProxy, step: Step
) -> None:
    proxy = shared_proxy(_config(scripted.base_url))
    scripted.script("m1", step)
    received: list[str] = []

    stream = sdk(proxy).chat.completions.create(model="a:m1", messages=MESSAGES, stream=True)
    with pytest.raises(openai.APIError) as caught:
        for c in stream:
            received.append(c.choices[0].delta.content or "" if c.choices else "")

    assert "".join(received) == "Half an answer"
    assert not isinstance(caught.value, openai.APIStatusError)  # raised from the stream, after a 200
    assert scripted.models() == ["m1"]  # never retried, the fallback never called


def test_the_late_error_event_is_the_last_thing_on_the_wire(
    scripted: ScriptedUpstream, shared_proxy: StartProxy
) -> None:
    proxy = shared_proxy(_config(scripted.base_url))
    scripted.script("m1", Step(events=[*CONTENT, chunk("m1", {}, "stop"), "data: [DONE]"], stall_after=3))

    response = raw_post(proxy, {"model": "a:m1", "messages": MESSAGES, "stream": True})

    events = [e for e in response.text.split("\n\n") if e.strip()]
    last = json.loads(events[-1].removeprefix("data: "))
    assert last["error"]["code"] == "504"
    assert "[DONE]" not in response.text
    assert response.headers["x-switchyard-route"] == "a:m1"
    assert scripted.models() == ["m1"]




def test_an_error_after_only_a_role_chunk_still_fails_over_unseen(
    scripted: ScriptedUpstream, shared_proxy: StartProxy
) -> None:
    # OpenRouter opens a stream with an empty role chunk: no content has reached the client yet.
    proxy = shared_proxy(_config(scripted.base_url, connect_retries=0))
    scripted.script("m1", Step(events=[chunk("m1", {"role": "assistant", "content": ""}), error_event("m1", 503)]))

    raw = sdk(proxy).chat.completions.with_raw_response.create(model="a:m1", messages=MESSAGES, stream=True)
    chunks = list(raw.parse())

    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello from m2"
    assert {c.model for c in chunks} == {"m2"}
    assert scripted.models() == ["m1", "m2"]
