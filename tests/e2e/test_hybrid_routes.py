"""The hybrid backend as a route: by its name, as a failover target, inline, and failing.

Backend `h` reasons on or:r1 and answers with or:small (tests/e2e/failover_helpers.py).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from src.config import Config
from tests.e2e.failover_helpers import (  # noqa: F401 - fixtures
    REASONING,
    error_body,
    fail,
    hybrid_backends,
    make_config,
    proxy_pool,
    reasoning_of,
    sdk,
    shared_proxy_fixture,
)
from tests.fakes.proxy import RunningProxy
from tests.fakes.scripted import ScriptedUpstream, Step, error_event, reasoning_events

STREAM = pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
StartProxy = Callable[[Config], RunningProxy]
H_ROUTE = "h:[or:r1,or:small]"


def _reasoner(scripted: ScriptedUpstream, model: str = "r1") -> None:
    scripted.script(model, Step(events=reasoning_events(model, REASONING, "Hi there")))


@STREAM
def test_a_hybrid_backend_is_a_model_of_its_own(
    scripted: ScriptedUpstream, shared_proxy: StartProxy, stream: bool
) -> None:
    proxy = shared_proxy(make_config(hybrid_backends(scripted.base_url)))
    _reasoner(scripted)

    text, reasoning, headers = reasoning_of(sdk(proxy), "h", stream)

    assert text == "Hello from small"
    assert reasoning == REASONING
    assert (headers["x-switchyard-route"], headers["x-switchyard-attempts"]) == (H_ROUTE, "1")
    assert scripted.models() == ["r1", "small"]
    assert scripted.requests[0].body["stream"] is True  # phase 1 is always streamed
    assert scripted.requests[1].body.get("stream", False) is stream


@STREAM
def test_a_hybrid_backend_name_is_a_failover_target_needing_no_model(
    scripted: ScriptedUpstream, shared_proxy: StartProxy, stream: bool
) -> None:
    proxy = shared_proxy(make_config(hybrid_backends(scripted.base_url), failover_routes={"or:big": ["h"]}))
    scripted.script("big", Step(status=429))
    _reasoner(scripted)

    text, reasoning, headers = reasoning_of(sdk(proxy), "or:big", stream)

    assert (text, reasoning) == ("Hello from small", REASONING)
    assert (headers["x-switchyard-route"], headers["x-switchyard-attempts"]) == (H_ROUTE, "2")
    assert scripted.models() == ["big", "r1", "small"]


@STREAM
def test_an_inline_hybrid_sends_its_execution_parameters_to_phase_two_only(
    scripted: ScriptedUpstream, shared_proxy: StartProxy, stream: bool
) -> None:
    proxy = shared_proxy(make_config(hybrid_backends(scripted.base_url)))
    _reasoner(scripted)

    text, reasoning, headers = reasoning_of(sdk(proxy), "hybrid:[or:r1,or:small?temperature=0.2]", stream)

    assert (text, reasoning) == ("Hello from small", REASONING)
    assert headers["x-switchyard-route"] == "hybrid:[or:r1,or:small?temperature=0.2]"  # each leg keeps its parameters
    phase1, phase2 = scripted.requests
    assert (phase1.model, phase2.model) == ("r1", "small")
    assert phase2.body["temperature"] == 0.2
    assert "temperature" not in phase1.body


@STREAM
def test_an_inline_hybrid_may_be_an_alternative(
    scripted: ScriptedUpstream, shared_proxy: StartProxy, stream: bool
) -> None:
    proxy = shared_proxy(make_config(hybrid_backends(scripted.base_url)))
    scripted.script("big", Step(status=503))
    _reasoner(scripted)

    text, reasoning, headers = reasoning_of(sdk(proxy), "or:big|hybrid:[or:r1,local:small?temperature=0.2]", stream)

    assert (text, reasoning) == ("Hello from small", REASONING)
    assert (headers["x-switchyard-route"], headers["x-switchyard-attempts"]) == ("hybrid:[or:r1,local:small?temperature=0.2]", "2")
    assert [seen.key for seen in scripted.requests][1:] == ["sk-or-hybrid-key-0001", "sk-local-key-0002"]
    assert scripted.requests[2].body["temperature"] == 0.2


PHASE2_FAILURES = {
    "status-500": Step(status=500),
    "error-in-a-200": Step(
        events=[error_event("small", 502)], completion={"error": {"code": 502, "message": "down"}}
    ),
}


@pytest.mark.parametrize("failure", list(PHASE2_FAILURES.values()), ids=list(PHASE2_FAILURES))
@STREAM
def test_a_failing_phase_two_moves_on_to_the_hybrids_next_route(
    scripted: ScriptedUpstream, shared_proxy: StartProxy, stream: bool, failure: Step
) -> None:
    proxy = shared_proxy(make_config(hybrid_backends(scripted.base_url), failover_routes={"h": ["local:big"]}))
    _reasoner(scripted)
    scripted.script("small", failure)

    text, reasoning, headers = reasoning_of(sdk(proxy), "h", stream)

    assert (text, reasoning) == ("Hello from big", None)
    assert (headers["x-switchyard-route"], headers["x-switchyard-attempts"]) == ("local:big", "2")
    assert scripted.models() == ["r1", "small", "big"]


@STREAM
def test_a_failing_phase_two_with_no_route_left_is_the_clients_error(
    scripted: ScriptedUpstream, shared_proxy: StartProxy, stream: bool
) -> None:
    proxy = shared_proxy(make_config(hybrid_backends(scripted.base_url)))
    _reasoner(scripted)
    scripted.script("small", Step(status=502, error={"code": 502, "message": "execution model down"}))

    error = fail(sdk(proxy), "h", stream)

    assert error.status_code == 502
    assert "execution model down" in error_body(error)["message"]
    assert (error.response.headers["x-switchyard-route"], error.response.headers["x-switchyard-attempts"]) == (
        H_ROUTE,
        "1",
    )


def test_a_phase_two_request_error_is_not_failed_over(scripted: ScriptedUpstream, shared_proxy: StartProxy) -> None:
    proxy = shared_proxy(make_config(hybrid_backends(scripted.base_url), failover_routes={"h": ["local:big"]}))
    _reasoner(scripted)
    scripted.script("small", Step(status=400, error={"code": 400, "message": "bad tool schema"}))

    error = fail(sdk(proxy), "h", stream=False)

    assert error.status_code == 400
    assert scripted.models() == ["r1", "small"]
