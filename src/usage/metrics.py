"""The proxy's metrics, fed one finished request's record at a time, and the label a route gets.

A model string is the client's to choose. So a route becomes a label only when the proxy knows
it (a configured route, a model a backend's catalog lists, or one an upstream has served); any
other is counted as `<backend>:other`, or `other` for a backend that is not configured.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from src.usage.prometheus import (
    LATENCY_BUCKETS,
    MAX_SERIES,
    OTHER,
    TOKEN_KINDS,
    TTFT_BUCKETS,
    Counter,
    Gauge,
    Histogram,
    Registry,
)
from src.usage.record import OK, UsageRecord, split_route

MAX_LABEL = 256  # characters of a route label
STREAMS_IN_FLIGHT = "switchyard_streams_in_flight"  # a gauge: only live processes' values add up


class RouteLabels:
    """The `route` label of a request: its route when known, else OTHER for its backend."""

    def __init__(self, backends: Collection[str], routes: Collection[str], known: Callable[[str, str], bool]) -> None:
        self._backends = frozenset(backends)
        self._routes = set(routes)  # configured ones, then every route an upstream served
        self._known = known  # whether a backend's catalog lists a model

    def __call__(self, route: str | None, served: bool) -> str:
        if not route:
            return "none"
        if route in self._routes:
            return route
        backend, _, model = route.partition(":")
        if backend not in self._backends:
            return OTHER
        if len(route) > MAX_LABEL or len(self._routes) >= MAX_SERIES or not (served or self._known(backend, model)):
            return f"{backend}:{OTHER}"
        self._routes.add(route)
        return route


class ProxyMetrics:
    """`observe()` each finished request's record, `render()` for `/metrics`."""

    def __init__(self) -> None:
        self.registry = r = Registry()
        self.requests = r.add(
            Counter("switchyard_requests_total", "Requests by front-end, final route and status.",
                    ("frontend", "route", "status"))
        )  # fmt: skip
        self.duration = r.add(
            Histogram("switchyard_request_duration_seconds", "Total request latency.", ("frontend",), LATENCY_BUCKETS)
        )
        self.ttft = r.add(
            Histogram("switchyard_time_to_first_token_seconds", "Time to the first token of a stream.",
                      ("frontend",), TTFT_BUCKETS)
        )  # fmt: skip
        self.tokens = r.add(Counter("switchyard_tokens_total", "Tokens by final route and kind.", ("route", "kind")))
        self.cost = r.add(Counter("switchyard_cost_usd_total", "Known cost in USD by final route.", ("route",)))
        self.failovers = r.add(
            Counter("switchyard_failovers_total", "Moves to the next route, by why the previous one failed.",
                    ("reason",))
        )  # fmt: skip
        self.upstream_errors = r.add(
            Counter("switchyard_upstream_errors_total", "Failed upstream attempts by backend and reason.",
                    ("backend", "reason"))
        )  # fmt: skip
        self.streams_in_flight = r.add(Gauge(STREAMS_IN_FLIGHT, "Streams being served now."))
        self.shared_store_down = r.add(
            Gauge("switchyard_shared_store_down", "1 while the shared store (Redis) cannot be reached.")
        )

    def observe(self, record: UsageRecord, route: str) -> None:
        """`route` is the record's route as a label (RouteLabels)."""
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

    def broke_midstream(self, backend: str, status: int) -> None:
        """A stream that failed after it began: its attempt had succeeded, so only this counts it."""
        self.upstream_errors.add_at((backend, f"midstream_{status}"), 1)

    def stream_started(self) -> None:
        self.streams_in_flight.inc()

    def stream_ended(self) -> None:
        self.streams_in_flight.dec()

    def render(self) -> str:
        return self.registry.render()
