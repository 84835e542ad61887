"""`GET /metrics`: Prometheus text for admin keys (or everyone with `metrics.public`), parsed by prometheus_client."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from src.config import Config
from tests.e2e.usage_helpers import (
    ADMIN_KEY,
    MESSAGES,
    PricedUpstream,
    auth,
    chat,
    metrics,
    priced_fixture,  # noqa: F401
    priced_server_fixture,  # noqa: F401
    sample,
    usage_config,
)
from tests.fakes.proxy import PROXY_KEY, RunningProxy
from tests.fakes.scripted import Step

Start = Callable[[Config], RunningProxy]
FAILOVER = {"openrouter:vendor/first": ["local:vendor/second"]}
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def settled(proxy: RunningProxy, requests: int) -> Samples:
    """The metrics once `requests` requests are counted: each is taken after its answer has gone out."""
    for _ in range(200):
        samples = metrics(proxy)
        if sum(v for (name, _), v in samples.items() if name == "switchyard_requests_total") >= requests:
            return samples
        time.sleep(0.01)
    raise AssertionError(f"fewer than {requests} requests counted: {samples}")


@pytest.fixture(scope="module")
def traffic(priced_server: PricedUpstream) -> Iterator[tuple[RunningProxy, Samples]]:
    """openai: vendor/ok plain and streamed, vendor/first (503, then local:vendor/second), vendor/bad (400);
    anthropic: vendor/ok. Each success: 10 prompt and 4 completion tokens, $0.0001."""
    priced_server.reset()
    config = usage_config(priced_server.base_url, None, local_url=priced_server.base_url, failover_routes=FAILOVER)
    proxy = RunningProxy(config).start()
    try:
        priced_server.script("vendor/first", Step(status=503))
        priced_server.script("vendor/bad", Step(status=400))
        assert [chat(proxy, "vendor/ok").status_code, chat(proxy, "vendor/ok", stream=True).status_code] == [200, 200]
        assert [chat(proxy, "vendor/first").status_code, chat(proxy, "vendor/bad").status_code] == [200, 400]
        body = {"model": "vendor/ok", "max_tokens": 20, "messages": MESSAGES}
        assert httpx.post(f"{proxy.url}/v1/messages", json=body, headers={"x-api-key": PROXY_KEY}).status_code == 200
        yield proxy, settled(proxy, 5)
    finally:
        proxy.stop()


def test_requests_by_frontend_route_and_status(traffic: tuple[RunningProxy, Samples]) -> None:
    _, samples = traffic
    requests = {labels: v for (name, labels), v in samples.items() if name == "switchyard_requests_total"}
    assert {tuple(sorted(dict(labels).items())): v for labels, v in requests.items()} == {
        (("frontend", "openai"), ("route", "openrouter:vendor/ok"), ("status", "200")): 2,
        (("frontend", "openai"), ("route", "local:vendor/second"), ("status", "200")): 1,
        # a model the upstream refused and no catalog lists is the client's string: not a label of its own
        (("frontend", "openai"), ("route", "openrouter:other"), ("status", "400")): 1,
        (("frontend", "anthropic"), ("route", "openrouter:vendor/ok"), ("status", "200")): 1,
    }


def test_latency_and_time_to_first_token_histograms(traffic: tuple[RunningProxy, Samples]) -> None:
    _, samples = traffic
    assert sample(samples, "switchyard_request_duration_seconds_count", frontend="openai") == 4
    assert sample(samples, "switchyard_request_duration_seconds_count", frontend="anthropic") == 1
    assert sample(samples, "switchyard_request_duration_seconds_bucket", frontend="openai", le="+Inf") == 4
    assert 0 < sample(samples, "switchyard_request_duration_seconds_sum", frontend="openai") < 5  # type: ignore[operator]
    assert sample(samples, "switchyard_time_to_first_token_seconds_count", frontend="openai") == 1  # one stream
    assert sample(samples, "switchyard_time_to_first_token_seconds_bucket", frontend="openai", le="+Inf") == 1
    assert sample(samples, "switchyard_time_to_first_token_seconds_count", frontend="anthropic") is None


def test_tokens_and_cost_by_route(traffic: tuple[RunningProxy, Samples]) -> None:
    _, samples = traffic
    assert sample(samples, "switchyard_tokens_total", route="openrouter:vendor/ok", kind="prompt") == 30
    assert sample(samples, "switchyard_tokens_total", route="openrouter:vendor/ok", kind="completion") == 12
    assert sample(samples, "switchyard_tokens_total", route="local:vendor/second", kind="prompt") == 10
    assert sample(samples, "switchyard_cost_usd_total", route="openrouter:vendor/ok") == pytest.approx(0.0003)
    assert sample(samples, "switchyard_cost_usd_total", route="local:vendor/second") == pytest.approx(0.0001)
    assert sample(samples, "switchyard_cost_usd_total", route="openrouter:vendor/bad") is None


def test_failovers_and_upstream_errors_by_reason(traffic: tuple[RunningProxy, Samples]) -> None:
    _, samples = traffic
    failovers = {labels: v for (name, labels), v in samples.items() if name == "switchyard_failovers_total"}
    assert failovers == {frozenset({("reason", "status_503")}): 1}  # the 400 was the request's own: no failover
    assert sample(samples, "switchyard_upstream_errors_total", backend="openrouter", reason="status_503") == 1
    assert sample(samples, "switchyard_upstream_errors_total", backend="openrouter", reason="status_400") == 1


def test_no_stream_is_in_flight_once_the_streams_have_ended(traffic: tuple[RunningProxy, Samples]) -> None:
    _, samples = traffic
    assert sample(samples, "switchyard_streams_in_flight") == 0


def test_metrics_need_an_admin_key(traffic: tuple[RunningProxy, Samples]) -> None:
    proxy, _ = traffic
    anonymous = httpx.get(f"{proxy.url}/metrics")
    assert anonymous.status_code == 401 and anonymous.json()["error"]["type"] == "authentication_error"
    normal = httpx.get(f"{proxy.url}/metrics", headers=auth(PROXY_KEY))
    assert normal.status_code == 403
    assert normal.json()["error"]["type"] == "permission_error" and "admin" in normal.json()["error"]["message"]
    assert httpx.get(f"{proxy.url}/metrics", headers=auth(ADMIN_KEY)).status_code == 200


def test_public_metrics_need_no_key(priced: PricedUpstream, start_proxy: Start) -> None:
    proxy = start_proxy(usage_config(priced.base_url, None, metrics={"public": True}))
    assert sample(metrics(proxy, key=None), "switchyard_streams_in_flight") == 0
    assert httpx.get(f"{proxy.url}/metrics", headers=auth(PROXY_KEY)).status_code == 200


def test_latency_and_ttft_land_in_their_buckets(priced: PricedUpstream, start_proxy: Start) -> None:
    priced.script("vendor/slow", Step(stall=0.3), Step(stall=0.3))
    proxy = start_proxy(usage_config(priced.base_url, None))
    assert chat(proxy, "vendor/slow").status_code == 200
    assert chat(proxy, "vendor/slow", stream=True).status_code == 200
    samples = settled(proxy, 2)
    for name, count in (("switchyard_request_duration_seconds", 2), ("switchyard_time_to_first_token_seconds", 1)):
        assert sample(samples, f"{name}_bucket", frontend="openai", le="0.25") == 0
        assert sample(samples, f"{name}_bucket", frontend="openai", le="0.5") == count
        assert sample(samples, f"{name}_sum", frontend="openai") >= 0.3 * count  # type: ignore[operator]


def test_a_retry_on_the_same_route_is_an_upstream_error_but_no_failover(priced: PricedUpstream, start_proxy: Start) -> None:
    priced.script("vendor/r", Step(status=503, retry_after="0"))
    proxy = start_proxy(usage_config(priced.base_url, None))
    response = chat(proxy, "vendor/r")
    assert response.status_code == 200 and response.headers["x-switchyard-attempts"] == "2"
    assert response.headers["x-switchyard-route"] == "openrouter:vendor/r" and priced.models() == ["vendor/r"] * 2
    samples = settled(proxy, 1)
    assert sample(samples, "switchyard_upstream_errors_total", backend="openrouter", reason="status_503") == 1
    assert [name for name, _ in samples if name == "switchyard_failovers_total"] == []
