"""Prometheus exposition, checked by parsing it with the reference client's parser."""

from __future__ import annotations

import pytest
from prometheus_client import parser
from prometheus_client.metrics_core import Metric

from src.usage.metrics import ProxyMetrics
from src.usage.prometheus import CONTENT_TYPE, Counter, Gauge, Histogram, Registry
from src.usage.record import OK, Attempt
from tests.usage.record_helpers import make_record


def parse(text: str) -> dict[str, Metric]:
    return {family.name: family for family in parser.text_string_to_metric_families(text)}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in parser.text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.mark.parametrize(
    "value",
    ['plain', 'back\\slash', 'quote"d', 'new\nline', '\\"\n\\n', 'ünïcode', ''],
)  # fmt: skip
def test_label_values_survive_escaping(value: str) -> None:
    registry = Registry()
    counter = registry.add(Counter("c_total", "A counter\nwith \\ in its help.", ("v",)))
    counter.inc(2, v=value)
    parsed = samples(registry.render())
    assert parsed == {("c_total", (("v", value),)): 2.0}
    assert parse(registry.render())["c"].documentation == "A counter\nwith \\ in its help."


def test_histogram_buckets_are_cumulative_with_inf_sum_and_count() -> None:
    registry = Registry()
    h = registry.add(Histogram("h_seconds", "A histogram.", ("f",), buckets=(0.1, 1.0, 10.0)))
    for value in (0.05, 0.1, 0.5, 5.0, 50.0):
        h.observe(value, f="x")
    family = parse(registry.render())["h_seconds"]
    assert family.type == "histogram"
    got = {(s.name, s.labels.get("le")): s.value for s in family.samples}
    assert got == {
        ("h_seconds_bucket", "0.1"): 2.0,  # le is inclusive
        ("h_seconds_bucket", "1"): 3.0,
        ("h_seconds_bucket", "10"): 4.0,
        ("h_seconds_bucket", "+Inf"): 5.0,
        ("h_seconds_sum", None): pytest.approx(55.65),
        ("h_seconds_count", None): 5.0,
    }


def test_unlabelled_metrics_start_at_zero_and_labelled_ones_empty() -> None:
    registry = Registry()
    registry.add(Gauge("g", "A gauge."))
    registry.add(Counter("c_total", "A counter.", ("x",)))
    text = registry.render()
    assert text == "# HELP g A gauge.\n# TYPE g gauge\ng 0\n# HELP c_total A counter.\n# TYPE c_total counter\n"
    assert samples(text) == {("g", ()): 0.0}


@pytest.mark.parametrize(
    ("action", "error"),
    [
        (lambda r: r.add(Counter("c_total", "again")), "already registered"),
        (lambda r: r.metrics["c_total"].inc(1, wrong="x"), "takes the labels"),
        (lambda r: r.metrics["c_total"].inc(), "takes the labels"),
        (lambda r: r.metrics["c_total"].inc(-1, x="a"), "only goes up"),
        (lambda r: Histogram("h", "h", buckets=(2.0, 1.0)), "increasing"),
        (lambda r: Histogram("h", "h", ("le",)), "reserved"),
    ],
)
def test_misuse_is_an_error(action: object, error: str) -> None:
    registry = Registry()
    registry.add(Counter("c_total", "A counter.", ("x",)))
    with pytest.raises(ValueError, match=error):
        action(registry)  # type: ignore[operator]


def test_gauge_goes_both_ways() -> None:
    registry = Registry()
    gauge = registry.add(Gauge("g", "A gauge.", ("x",)))
    gauge.inc(x="a")
    gauge.inc(x="a")
    gauge.dec(x="a")
    gauge.set(7.5, x="b")
    assert samples(registry.render()) == {("g", (("x", "a"),)): 1.0, ("g", (("x", "b"),)): 7.5}


def test_proxy_metrics() -> None:
    metrics = ProxyMetrics()
    metrics.observe(make_record(
        attempts=(Attempt("openrouter:anthropic/claude-sonnet-4", 429, "status_429", 10.0),
                  Attempt("openrouter:openai/gpt-4o", None, "timeout", 20.0),
                  Attempt("local:llama3", 200, OK, 30.0)),
        route="local:llama3", prompt_tokens=10, completion_tokens=5, reasoning_tokens=2, cached_tokens=0,
        cost_usd=0.25, latency_ms=1500.0, ttft_ms=200.0, stream=True,
    ), "local:llama3")  # fmt: skip
    metrics.observe(
        make_record(route="local:llama3", cost_usd=0.25, latency_ms=500.0, frontend="anthropic"), "local:llama3"
    )
    metrics.observe(make_record(route=None, status=502, frontend="anthropic", cost_usd=None, prompt_tokens=None,
                                completion_tokens=None, attempts=(Attempt("local:llama3", None, "connect", 1.0),)), "none")  # fmt: skip
    metrics.stream_started()
    metrics.stream_started()
    metrics.stream_ended()
    text = metrics.render()
    families = parse(text)
    assert {name: f.type for name, f in families.items()} == {
        "switchyard_requests": "counter",
        "switchyard_request_duration_seconds": "histogram",
        "switchyard_time_to_first_token_seconds": "histogram",
        "switchyard_tokens": "counter",
        "switchyard_cost_usd": "counter",
        "switchyard_failovers": "counter",
        "switchyard_upstream_errors": "counter",
        "switchyard_streams_in_flight": "gauge",
        "switchyard_shared_store_down": "gauge",
    }
    got = samples(text)

    def value(name: str, **labels: str) -> float | None:
        return got.get((name, tuple(sorted(labels.items()))))

    assert value("switchyard_requests_total", frontend="openai", route="local:llama3", status="200") == 1
    assert value("switchyard_requests_total", frontend="anthropic", route="local:llama3", status="200") == 1
    assert value("switchyard_requests_total", frontend="anthropic", route="none", status="502") == 1
    assert value("switchyard_request_duration_seconds_count", frontend="anthropic") == 2
    assert value("switchyard_request_duration_seconds_sum", frontend="openai") == 1.5
    assert value("switchyard_request_duration_seconds_bucket", frontend="openai", le="1") == 0
    assert value("switchyard_request_duration_seconds_bucket", frontend="openai", le="2.5") == 1
    assert value("switchyard_time_to_first_token_seconds_count", frontend="openai") == 1
    assert value("switchyard_time_to_first_token_seconds_count", frontend="anthropic") is None
    assert value("switchyard_tokens_total", route="local:llama3", kind="prompt") == 20
    assert value("switchyard_tokens_total", route="local:llama3", kind="completion") == 10
    assert value("switchyard_tokens_total", route="local:llama3", kind="reasoning") == 2
    assert value("switchyard_tokens_total", route="local:llama3", kind="cached") is None  # zero: not counted
    assert value("switchyard_cost_usd_total", route="local:llama3") == 0.5
    assert value("switchyard_failovers_total", reason="status_429") == 1
    assert value("switchyard_failovers_total", reason="timeout") == 1
    assert value("switchyard_failovers_total", reason="connect") is None  # the last attempt: nothing after it
    assert value("switchyard_upstream_errors_total", backend="openrouter", reason="status_429") == 1
    assert value("switchyard_upstream_errors_total", backend="openrouter", reason="timeout") == 1
    assert value("switchyard_upstream_errors_total", backend="local", reason="connect") == 1
    assert value("switchyard_streams_in_flight") == 1
    assert CONTENT_TYPE.startswith("text/plain; version=0.0.4")


def test_proxy_metrics_share_nothing() -> None:
    first, second = ProxyMetrics(), ProxyMetrics()
    first.observe(make_record(), "local:llama3")
    first.stream_started()
    assert "switchyard_requests_total{" not in second.render()
    assert "switchyard_streams_in_flight 0" in second.render()
