"""Failures on `/v1/responses`: before the first output they fail over as on chat completions; after
it a stream ends with exactly one `response.failed` carrying an error code; a stream never ends
without its last event."""

from __future__ import annotations

from collections.abc import Callable

import openai
import pytest

from src.config import Config
from tests.e2e.responses_helpers import config, of_type, post, sdk, stream
from tests.fakes.proxy import RunningProxy, config_for
from tests.fakes.scripted import ScriptedUpstream, Step, chunk, completion, error_event, usage_chunk
from tests.fakes.upstream import FakeUpstream

Start = Callable[[Config], RunningProxy]
BODY = {"model": "m1", "input": "hi"}


@pytest.fixture
def proxy(scripted: ScriptedUpstream, start_proxy: Start) -> RunningProxy:
    return start_proxy(config(scripted, failover_routes={"local:m1": ["local:m2"]}))


def partial(model: str, *ending: object) -> Step:
    """A stream that shows its first words, then ends as given."""
    return Step(events=[chunk(model, {"role": "assistant", "content": ""}), chunk(model, {"content": "Hel"}),
                        chunk(model, {"content": "lo"}), *ending])  # type: ignore[list-item]  # fmt: skip


@pytest.mark.parametrize(
    "failure",
    [
        Step(status=429),
        Step(status=503),
        Step(drop=True),
        Step(events=[error_event("m1", 429, "Rate limited by the provider")]),
        Step(events=[chunk("m1", {"role": "assistant", "content": ""}), error_event("m1", 502, "Provider down")]),
    ],
    ids=["429", "503", "dropped", "error-event-first", "role-chunk-then-error"],
)
def test_a_stream_that_fails_before_its_first_output_fails_over_invisibly(
    proxy: RunningProxy, scripted: ScriptedUpstream, failure: Step
) -> None:
    scripted.script("m1", failure)
    events = stream(proxy, BODY)
    assert events[-1]["type"] == "response.completed" and not of_type(events, "response.failed")
    answerer = scripted.models()[-1]  # m2; or m1 again, when a lost connection is retried on its route
    assert [e["delta"] for e in of_type(events, "response.output_text.delta")] == ["Hello", " from", f" {answerer}"]
    assert len(scripted.models()) >= 2 and scripted.models()[0] == "m1"
    assert events[-1]["response"]["model"] == "m1"  # the model the client asked for


@pytest.mark.parametrize(
    "failure",
    [Step(status=429), Step(completion={**completion("m1"), "error": {"code": 429, "message": "in-band limit"}})],
    ids=["429", "in-band-error"],
)
def test_a_whole_answer_fails_over_too(proxy: RunningProxy, scripted: ScriptedUpstream, failure: Step) -> None:
    scripted.script("m1", failure)
    reply = post(proxy, BODY)
    assert reply.status_code == 200, reply.text
    assert reply.json()["output"][0]["content"][0]["text"] == "Hello from m2"
    assert reply.headers["x-switchyard-route"] == "local:m2" and reply.headers["x-switchyard-attempts"] == "2"
    assert scripted.models() == ["m1", "m2"]


@pytest.mark.parametrize(
    ("code", "expected"),
    [(429, "rate_limit_exceeded"), (402, "insufficient_quota"), (502, "server_error"),
     ("context_length_exceeded", "context_length_exceeded")],
)  # fmt: skip
def test_a_failure_after_the_first_output_ends_with_one_response_failed(
    proxy: RunningProxy, scripted: ScriptedUpstream, code: int | str, expected: str
) -> None:
    scripted.script("m1", partial("m1", error_event("m1", code, "Rate limited by the provider. Try again in 2s.")))
    events = stream(proxy, BODY)  # `stream` checks that it is the one last event, at the end
    failed = events[-1]
    assert failed["type"] == "response.failed" and failed["response"]["status"] == "failed"
    assert failed["response"]["error"]["code"] == expected
    assert "Rate limited by the provider. Try again in 2s." in failed["response"]["error"]["message"]
    assert [e["delta"] for e in of_type(events, "response.output_text.delta")] == ["Hel", "lo"]
    assert scripted.models() == ["m1"]  # what the client saw cannot be taken back: no failover


def test_the_sdk_sees_the_failure_as_a_response_failed_event(proxy: RunningProxy, scripted: ScriptedUpstream) -> None:
    scripted.script("m1", partial("m1", error_event("m1", 429, "slow down")))
    with sdk(proxy).responses.stream(model="m1", input="hi") as events:
        kinds = [event.type for event in events]
    assert kinds[-1] == "response.failed" and kinds.count("response.failed") == 1


@pytest.mark.parametrize("ending", [[], [chunk("m1", {}, "stop")], [chunk("m1", {}, "stop"), usage_chunk("m1")]],
                         ids=["after-text", "after-finish", "after-usage"])  # fmt: skip
def test_a_stream_that_ends_without_done_ends_with_response_failed(
    proxy: RunningProxy, scripted: ScriptedUpstream, ending: list[object]
) -> None:
    scripted.script("m1", partial("m1", *ending))
    events = stream(proxy, BODY)
    assert events[-1]["type"] == "response.failed"
    assert events[-1]["response"]["error"]["code"] == "server_error"
    assert "ended before it was complete" in events[-1]["response"]["error"]["message"]


def test_a_connection_cut_mid_stream_ends_with_response_failed(upstream: FakeUpstream, start_proxy: Start) -> None:
    proxy = start_proxy(config_for(upstream.base_url))
    events = stream(proxy, {"model": "vendor/truncated", "input": "hi"})
    assert [e["delta"] for e in of_type(events, "response.output_text.delta")] == ["Hello"]
    assert events[-1]["type"] == "response.failed" and events[-1]["response"]["error"]["code"] == "server_error"


@pytest.mark.parametrize("streamed", [False, True])
def test_when_every_route_fails_the_client_gets_the_status_in_openais_envelope(
    proxy: RunningProxy, scripted: ScriptedUpstream, streamed: bool
) -> None:
    scripted.script("m1", Step(status=429))
    scripted.script("m2", Step(status=429))
    with pytest.raises(openai.RateLimitError) as caught:
        if streamed:
            with sdk(proxy).responses.stream(model="m1", input="hi") as events:
                list(events)
        else:
            sdk(proxy).responses.create(model="m1", input="hi")
    error = caught.value.response.json()["error"]
    assert error["type"] == "rate_limit_error" and "all 2 attempts failed" in error["message"]
    assert scripted.models() == ["m1", "m2"]
