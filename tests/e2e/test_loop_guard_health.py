"""The loop guard (x-switchyard-hop) and /health's report of backends, keys and cooling routes."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import openai
import pytest

from src.config import Config
from tests.e2e.failover_helpers import (  # noqa: F401 - fixtures
    MESSAGES,
    ask,
    backend,
    error_body,
    header,
    make_config,
    proxy_pool,
    sdk,
    shared_proxy_fixture,
    three_backends,
)
from tests.fakes.proxy import PROXY_KEY, RunningProxy
from tests.fakes.scripted import ScriptedUpstream, Step, reasoning_events

StartProxy = Callable[[Config], RunningProxy]
A1, A2 = "sk-health-key-a1-0001", "sk-health-key-a2-0002"
C1, C2 = "sk-health-key-c1-0003", "sk-health-key-c2-0004"
B = "sk-health-key-b-0005"


# --- the loop guard -----------------------------------------------------------------------------------


def test_every_upstream_request_carries_the_hop_header(scripted: ScriptedUpstream, shared_proxy: StartProxy) -> None:
    backends = {**three_backends(scripted.base_url), "h": {"type": "hybrid", "reasoning_model": "a:r1",
                                                          "execution_model": "b:small"}}
    proxy = shared_proxy(make_config(backends, failover_routes={"a:m1": ["b:m2"]}))
    client = sdk(proxy)
    scripted.script("m1", Step(status=500), Step(status=500))
    scripted.script("r1", Step(events=reasoning_events("r1", "think first", "answer")))

    for stream in (False, True):
        ask(client, "a:m1", stream)
    ask(client, "h", stream=True)

    assert scripted.models() == ["m1", "m2", "m1", "m2", "r1", "small"]
    assert [header(seen.headers, "x-switchyard-hop") for seen in scripted.requests] == ["1"] * 6


@pytest.mark.parametrize(
    "auth", [{"Authorization": f"Bearer {PROXY_KEY}"}, {}, {"Authorization": "Bearer wrong-key"}]
)
def test_a_request_from_a_proxy_gets_508_before_auth(
    scripted: ScriptedUpstream, shared_proxy: StartProxy, auth: dict[str, str]
) -> None:
    proxy = shared_proxy(make_config(three_backends(scripted.base_url)))
    hop = {"x-switchyard-hop": "1", **auth}

    for stream in (False, True):
        body = {"model": "a:m1", "messages": MESSAGES, "stream": stream}
        response = httpx.post(f"{proxy.url}/v1/chat/completions", verify=False, json=body, headers=hop)

        assert response.status_code == 508
        error = response.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}
        assert error["type"] == "loop_detected"
        assert "x-switchyard-hop" in error["message"]
    assert httpx.get(f"{proxy.url}/v1/models", verify=False, headers=hop).status_code == 508
    assert scripted.requests == []


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_the_sdk_raises_a_508_for_a_looping_request(
    scripted: ScriptedUpstream, shared_proxy: StartProxy, stream: bool
) -> None:
    proxy = shared_proxy(make_config(three_backends(scripted.base_url)))
    client = sdk(proxy, default_headers={"x-switchyard-hop": "1"})

    with pytest.raises(openai.APIStatusError) as caught:
        ask(client, "a:m1", stream)

    assert caught.value.status_code == 508
    assert error_body(caught.value)["type"] == "loop_detected"
    assert scripted.requests == []


def test_a_backend_pointing_back_at_the_proxy_fails_at_once(shared_proxy: StartProxy) -> None:
    first = shared_proxy(make_config({"up": backend("http://127.0.0.1:9/v1")}))
    looped = shared_proxy(make_config({"self": backend(f"{first.url}/v1", PROXY_KEY)}))
    # `looped` forwards to `first`, whose guard refuses the hop at once with a 508
    error = pytest.raises(openai.APIStatusError, ask, sdk(looped), "self:m1", False).value

    assert error.status_code == 508
    assert "x-switchyard-hop" in error_body(error)["message"]


# --- /health ------------------------------------------------------------------------------------------


def _health_config(url: str) -> Config:
    backends = {
        "a": backend(url, api_keys=[A1, A2]),
        "b": backend(url, B),
        "c": backend(url, api_keys=[C1, C2]),
        "h": {"type": "hybrid", "reasoning_model": "a:r1", "execution_model": "b:small"},
    }
    return make_config(backends, failover_routes={"b:m2": ["a:m1"]}, failover={"cooldown": 30})


def test_health_needs_no_key_and_starts_all_unknown(scripted: ScriptedUpstream, start_proxy: StartProxy) -> None:
    proxy = start_proxy(_health_config(scripted.base_url))

    response = httpx.get(f"{proxy.url}/health", verify=False)

    assert response.status_code == 200
    report = response.json()
    assert report["status"] == "ok"
    states = {name: b["state"] for name, b in report["backends"].items()}
    assert states == {"a": "unknown", "b": "unknown", "c": "unknown", "h": "unknown"}  # never contacted yet
    assert all(b["last_failure"] is None for b in report["backends"].values())
    assert report["backends"]["a"]["keys"] == [{"key": 0, "state": "ok"}, {"key": 1, "state": "ok"}]
    assert report["backends"]["h"]["keys"] == []


def test_health_reports_cooling_keys_and_routes_by_position_only(
    scripted: ScriptedUpstream, start_proxy: StartProxy
) -> None:
    proxy = start_proxy(_health_config(scripted.base_url))
    client = sdk(proxy)
    scripted.reject_key(A1, 401)
    scripted.reject_key(C1, 429)
    scripted.reject_key(C2, 402)
    scripted.script("m2", Step(status=500))
    ask(client, "a:m1", stream=False)  # A1 refused, served with A2
    ask(client, "b:m2", stream=True)  # b:m2 failed, served by a:m1
    with pytest.raises(openai.APIStatusError):
        ask(client, "c:m3", stream=False)  # both of c's keys refused

    response = httpx.get(f"{proxy.url}/health", verify=False)

    backends = response.json()["backends"]
    assert backends["a"]["state"] == "degraded"
    assert [(k["key"], k["state"]) for k in backends["a"]["keys"]] == [(0, "cooling"), (1, "ok")]
    assert 0 < backends["a"]["keys"][0]["seconds_left"] <= 30
    assert backends["b"]["state"] == "degraded"
    assert backends["b"]["last_failure"]["kind"] == "status_500"
    assert backends["b"]["last_failure"]["at"].endswith("Z")
    assert list(backends["b"]["cooling_routes"]) == ["b:m2"]
    assert backends["b"]["cooling_routes"]["b:m2"]["state"] == "cooling"
    assert backends["c"]["state"] == "down"
    assert [k["state"] for k in backends["c"]["keys"]] == ["cooling", "cooling"]
    assert backends["h"]["state"] == "unknown"
    assert not any(key in response.text for key in (A1, A2, B, C1, C2))
    assert "sk-" not in response.text


@pytest.mark.parametrize("auth", [{}, {"Authorization": f"Bearer {PROXY_KEY}"}])
def test_a_model_lookup_from_a_proxy_gets_508_before_auth(
    scripted: ScriptedUpstream, shared_proxy: StartProxy, auth: dict[str, str]
) -> None:
    # Regression: GET /v1/models/{id} used to skip the loop guard (401 without a key, the model with one).
    proxy = shared_proxy(make_config(three_backends(scripted.base_url)))

    response = httpx.get(f"{proxy.url}/v1/models/fake/model", verify=False, headers={"x-switchyard-hop": "1", **auth})

    assert response.status_code == 508
    assert response.json()["error"]["type"] == "loop_detected"
