"""`GET /metrics`: a tiny Prometheus registry (text exposition format 0.0.4) and the proxy's metrics.

Metrics are changed from the one event loop only, so nothing is locked.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from typing import TypeVar

from src.usage.record import OK, UsageRecord, split_route

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)
TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 60.0)
TOKEN_KINDS = ("prompt", "completion", "reasoning", "cached")

Labels = tuple[str, ...]
M = TypeVar("M", bound="Metric")


class Metric:
    kind = "untyped"

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> None:
        self.name = name
        self.help = help_text
        self.labelnames = tuple(labelnames)

    def _key(self, labels: dict[str, object]) -> Labels:
        # On every request: a list comprehension and a length check, no set built.
        try:
            key = tuple([str(labels[name]) for name in self.labelnames])
        except KeyError:
            key = ()
        if len(key) != len(labels) or len(key) != len(self.labelnames):
            raise ValueError(f"{self.name} takes the labels {self.labelnames}, not {tuple(labels)}")
        return key

    def render(self) -> list[str]:
        help_text = self.help.replace("\\", "\\\\").replace("\n", "\\n")
        return [f"# HELP {self.name} {help_text}", f"# TYPE {self.name} {self.kind}", *self._samples()]

    def _samples(self) -> Iterable[str]:
        raise NotImplementedError


class _Values(Metric):
    """A metric with one value per label set; without labels, it starts at 0."""

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> None:
        super().__init__(name, help_text, labelnames)
        self.values: dict[Labels, float] = {} if labelnames else {(): 0.0}

    def _add(self, amount: float, labels: dict[str, object]) -> None:
        self.add_at(self._key(labels), amount)

    def add_at(self, key: Labels, amount: float) -> None:
        """The hot path: label values as strings, in `labelnames` order, unchecked."""
        self.values[key] = self.values.get(key, 0.0) + amount

    def _samples(self) -> Iterable[str]:
        for key, value in self.values.items():
            yield sample(self.name, self.labelnames, key, value)


class Counter(_Values):
    kind = "counter"

    def inc(self, amount: float = 1.0, **labels: object) -> None:
        if amount < 0:
            raise ValueError(f"{self.name}: a counter only goes up")
        self._add(amount, labels)


class Gauge(_Values):
    kind = "gauge"

    def inc(self, amount: float = 1.0, **labels: object) -> None:
        self._add(amount, labels)

    def dec(self, amount: float = 1.0, **labels: object) -> None:
        self._add(-amount, labels)

    def set(self, value: float, **labels: object) -> None:
        self.values[self._key(labels)] = value


class Histogram(Metric):
    kind = "histogram"

    def __init__(
        self, name: str, help_text: str, labelnames: Sequence[str] = (), buckets: Sequence[float] = LATENCY_BUCKETS
    ) -> None:
        super().__init__(name, help_text, labelnames)
        if "le" in self.labelnames or list(buckets) != sorted(set(buckets)):
            raise ValueError(f"{self.name}: buckets must be increasing and 'le' is reserved")
        self.buckets = tuple(float(b) for b in buckets if b != math.inf)
        # Per label set: a count per bucket (not cumulative; the last is +Inf only), the sum.
        self.series: dict[Labels, tuple[list[int], list[float]]] = {}

    def observe(self, value: float, **labels: object) -> None:
        self.observe_at(self._key(labels), value)

    def observe_at(self, key: Labels, value: float) -> None:
        """The hot path: label values as strings, in `labelnames` order, unchecked."""
        series = self.series.get(key)
        if series is None:
            series = self.series[key] = ([0] * (len(self.buckets) + 1), [0.0])
        series[0][bisect_left(self.buckets, value)] += 1  # le is inclusive: value == bound goes in that bucket
        series[1][0] += value

    def _samples(self) -> Iterable[str]:
        names = (*self.labelnames, "le")
        for key, (counts, total) in self.series.items():
            running = 0
            for bound, count in zip((*self.buckets, math.inf), counts, strict=True):
                running += count
                yield sample(f"{self.name}_bucket", names, (*key, number(bound)), running)
            yield sample(f"{self.name}_sum", self.labelnames, key, total[0])
            yield sample(f"{self.name}_count", self.labelnames, key, running)


class Registry:
    def __init__(self) -> None:
        self.metrics: dict[str, Metric] = {}

    def add(self, metric: M) -> M:
        if metric.name in self.metrics:
            raise ValueError(f"metric {metric.name} is already registered")
        self.metrics[metric.name] = metric
        return metric

    def render(self) -> str:
        return "".join(line + "\n" for metric in self.metrics.values() for line in metric.render())


def sample(name: str, labelnames: Sequence[str], values: Sequence[str], value: float) -> str:
    if not labelnames:
        return f"{name} {number(value)}"
    labels = ",".join(f'{n}="{escape(v)}"' for n, v in zip(labelnames, values, strict=True))
    return f"{name}{{{labels}}} {number(value)}"


def escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return str(int(value)) if float(value).is_integer() and abs(value) < 2**53 else repr(float(value))


class ProxyMetrics:
    """The proxy's metrics; `observe()` each finished request's record, `render()` for `/metrics`."""

    def __init__(self) -> None:
        self.registry = r = Registry()
        self.requests = r.add(
            Counter("switchyard_requests_total", "Requests by front-end, final route and status.",
                    ("frontend", "route", "status"))
        )
        self.duration = r.add(
            Histogram("switchyard_request_duration_seconds", "Total request latency.", ("frontend",), LATENCY_BUCKETS)
        )
        self.ttft = r.add(
            Histogram("switchyard_time_to_first_token_seconds", "Time to the first token of a stream.",
                      ("frontend",), TTFT_BUCKETS)
        )
        self.tokens = r.add(Counter("switchyard_tokens_total", "Tokens by final route and kind.", ("route", "kind")))
        self.cost = r.add(Counter("switchyard_cost_usd_total", "Known cost in USD by final route.", ("route",)))
        self.failovers = r.add(
            Counter("switchyard_failovers_total", "Moves to the next route, by why the previous one failed.",
                    ("reason",))
        )
        self.upstream_errors = r.add(
            Counter("switchyard_upstream_errors_total", "Failed upstream attempts by backend and reason.",
                    ("backend", "reason"))
        )
        self.streams_in_flight = r.add(Gauge("switchyard_streams_in_flight", "Streams being served now."))

    def observe(self, record: UsageRecord) -> None:
        route = record.route or "none"
        frontend = (record.frontend,)
        self.requests.add_at((record.frontend, route, str(record.status)), 1)
        self.duration.observe_at(frontend, record.latency_ms / 1000)
        if record.ttft_ms is not None:
            self.ttft.observe_at(frontend, record.ttft_ms / 1000)
        counts = (record.prompt_tokens, record.completion_tokens, record.reasoning_tokens, record.cached_tokens)
        for kind, count in zip(TOKEN_KINDS, counts, strict=True):
            if count:
                self.tokens.add_at((route, kind), count)
        if record.cost_usd is not None:
            self.cost.add_at((route,), record.cost_usd)
        for position, attempt in enumerate(record.attempts):
            if attempt.outcome == OK:
                continue
            self.upstream_errors.add_at((split_route(attempt.route)[0] or "none", attempt.outcome), 1)
            following = record.attempts[position + 1] if position + 1 < len(record.attempts) else None
            if following is not None and following.route != attempt.route:  # a retry is no failover
                self.failovers.add_at((attempt.outcome,), 1)

    def stream_started(self) -> None:
        self.streams_in_flight.inc()

    def stream_ended(self) -> None:
        self.streams_in_flight.dec()

    def render(self) -> str:
        return self.registry.render()
