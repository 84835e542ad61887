"""Bounded metrics: route labels only for routes the proxy knows, series capped per metric, snapshots that add up."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from src.usage.metrics import MAX_LABEL, ProxyMetrics, RouteLabels
from src.usage.prometheus import MAX_SERIES, OTHER, Counter, Histogram, Registry
from src.usage.shared_metrics import SUFFIX, SharedMetrics
from tests.usage.record_helpers import make_record


def labels(known: set[tuple[str, str]] = frozenset()) -> RouteLabels:  # type: ignore[assignment]
    return RouteLabels(("openrouter", "local"), {"local:configured"}, lambda backend, model: (backend, model) in known)


@pytest.mark.parametrize(
    ("route", "served", "label"),
    [
        (None, False, "none"),
        ("local:configured", False, "local:configured"),  # configured: known whatever happened
        ("openrouter:listed/model", False, "openrouter:listed/model"),  # in the backend's catalog
        ("openrouter:made/up", False, "openrouter:other"),  # failed and unknown: the client's string
        ("openrouter:made/up", True, "openrouter:made/up"),  # an upstream served it: it exists
        ("nowhere:model", True, OTHER),  # not a configured backend
        ("openrouter:" + "x" * MAX_LABEL, True, "openrouter:other"),  # too long to be a label
    ],
)  # fmt: skip
def test_route_labels(route: str | None, served: bool, label: str) -> None:
    assert labels({("openrouter", "listed/model")})(route, served) == label


def test_route_labels_stop_learning_at_the_series_cap() -> None:
    policy = labels()
    learned = [policy(f"openrouter:m{i}", True) for i in range(MAX_SERIES + 10)]
    assert learned.count("openrouter:other") == 11  # the configured route takes one place
    assert policy("openrouter:m0", False) == "openrouter:m0"  # what was learned stays


@pytest.mark.parametrize("kind", ["counter", "histogram"])
def test_each_metric_keeps_at_most_max_series_label_sets(kind: str) -> None:
    metric = Counter("c_total", "c", ("route",)) if kind == "counter" else Histogram("h", "h", ("route",))
    for i in range(MAX_SERIES + 50):
        if isinstance(metric, Counter):
            metric.add_at((f"r{i}",), 1)
        else:
            metric.observe_at((f"r{i}",), 0.2)
    series = metric.values if isinstance(metric, Counter) else metric.series
    assert len(series) == MAX_SERIES + 1  # the overflow label set is the one more
    overflow = series[(OTHER,)]
    assert (overflow if isinstance(overflow, float) else sum(overflow[0])) == 50


def test_snapshots_merge_into_sums() -> None:
    one, two = ProxyMetrics(), ProxyMetrics()
    one.observe(make_record(route="local:a", latency_ms=100.0), "local:a")
    two.observe(make_record(route="local:a", latency_ms=300.0), "local:a")
    two.observe(make_record(route="local:b", cost_usd=None), "local:b")
    merged = ProxyMetrics()
    for metrics in (one, two):
        merged.registry.merge(orjson.loads(orjson.dumps(metrics.registry.snapshot())))  # as it travels on disk
    assert merged.requests.values == {("openai", "local:a", "200"): 2.0, ("openai", "local:b", "200"): 1.0}
    counts, total = merged.duration.series[("openai",)]
    assert sum(counts) == 3
    assert total[0] == pytest.approx(0.1 + 0.3 + 0.12)
    assert merged.cost.values == {("local:a",): 0.02}


def test_merge_skips_unknown_metrics_and_named_ones() -> None:
    registry = Registry()
    counter = registry.add(Counter("c_total", "c"))
    registry.merge({"c_total": [[2.0]], "unknown_total": [[5.0]]})
    registry.merge({"c_total": [[3.0]]}, skip=("c_total",))
    assert counter.values == {(): 2.0}


def test_shared_metrics_sum_every_worker_and_drop_the_streams_of_the_dead(tmp_path: Path) -> None:
    own = ProxyMetrics()
    own.observe(make_record(route="local:a"), "local:a")
    own.stream_started()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    for pid, requests, streams in ((1, 2.0, 3.0), (int(dead.stdout), 4.0, 5.0)):  # pid 1 is alive
        other = ProxyMetrics()
        other.requests.add_at(("openai", "local:a", "200"), requests)
        other.streams_in_flight.inc(streams)
        (tmp_path / f"{pid}{SUFFIX}").write_bytes(orjson.dumps({"pid": pid, "metrics": other.registry.snapshot()}))
    (tmp_path / f"9{SUFFIX}").write_bytes(b"{half a fi")  # a file being replaced is skipped, not fatal

    text = SharedMetrics(tmp_path, own).render()

    assert 'switchyard_requests_total{frontend="openai",route="local:a",status="200"} 7' in text
    assert "switchyard_streams_in_flight 4" in text  # own 1 + the live worker's 3; the dead one's 5 are gone
    assert (tmp_path / f"{os.getpid()}{SUFFIX}").exists()  # a scrape writes this worker's share first
