"""The table's rows, from the load generator's per-round results (medians of rounds)."""

from __future__ import annotations

from collections.abc import Callable

from bench.plan import Plan
from bench.report import median, row

TARGETS = ("direct", "baseline", "switchyard", "litellm")
LIMITS, REDIS = "switchyard (key limits)", "switchyard (key limits, Redis)"  # the Redis comparison (issue 15)
REDIS_MARGIN_MS = 0.1  # added latency with Redis within this of the same config without
PROXIES = ("baseline", "switchyard", "litellm")
GOALS: dict[tuple[str, str], tuple[str, Callable[[float], bool]]] = {  # (figure, target) -> (goal, test)
    ("added_latency_p50", "switchyard"): ("≤ 0.6 ms", lambda v: v <= 0.6),
    ("added_latency_p99", "switchyard"): ("≤ 2 ms", lambda v: v <= 2.0),
    ("throughput_ratio", "switchyard"): ("≥ 0.8× baseline", lambda v: v >= 0.8),
    ("added_ttfb_p50", "switchyard"): ("≤ 1 ms", lambda v: v <= 1.0),
    ("rss_growth", "switchyard"): ("≤ 10%", lambda v: v <= 10.0),
}


class Rows:
    def __init__(self, plan: Plan, results: dict[str, dict[str, list[dict]]], skipped: dict[str, str]) -> None:
        self.plan, self.results, self.skipped = plan, results, skipped
        self.rows: list[dict[str, object]] = []
        self.rounds = f"median of {plan.rounds} rounds"

    def add(self, key: str, measure: str, target: str, conditions: str, value: float | list[float] | None,
            unit: str, goal: tuple[str, bool] | None = None) -> None:
        """One row (the median, given per-round values); the goal comes from GOALS unless given as (text, met)."""
        rounds = value if isinstance(value, list) else None
        value = median(value) if isinstance(value, list) else value
        figure = key.split(".")[0]
        if goal is None and (rule := GOALS.get((figure, target))):
            goal = (rule[0], value is not None and rule[1](value))
        reason = self.skipped.get(target)
        self.rows.append(row(key, measure, target, conditions, None if reason else value, unit,
                             goal[0] if goal else None, goal[1] if goal else None, reason, rounds))

    def runs(self, target: str, phase: str) -> list[dict]:
        return self.results.get(target, {}).get(phase, [])

    def fig(self, target: str, phase: str, field: str) -> list[float]:
        """The per-round values of one figure."""
        return [r[field] for r in self.runs(target, phase) if r.get(field) is not None]

    def added(self, target: str, phase: str, field: str, base: str = "direct", base_phase: str | None = None
              ) -> list[float]:
        """Per round: the target's figure minus the direct upstream's (or `base`'s, in `base_phase`)."""
        runs, direct = self.runs(target, phase), self.runs(base, base_phase or phase)
        pairs = zip(runs, direct, strict=True) if len(runs) == len(direct) else ()
        return [t[field] - d[field] for t, d in pairs if t.get(field) is not None and d.get(field) is not None]

    def plain(self, workers_name: str) -> None:
        for target in (*TARGETS, workers_name):
            name = "switchyard_workers" if target == workers_name else target  # in keys
            for c, (n, warm) in self.plan.plain.items():
                if target == workers_name and c == 1:
                    continue
                cond = f"c={c}, {n:,} requests after {warm:,} warm-up, {self.rounds}"
                self.add(f"throughput.{name}.c{c}", "non-streaming throughput", target, cond,
                         self.fig(target, f"c{c}", "rps"), "req/s")
                for q in ("p50", "p99") if target != workers_name else ():
                    self.add(f"latency_{q}.{target}.c{c}", f"non-streaming latency {q}", target, cond,
                             self.fig(target, f"c{c}", f"{q}_ms"), "ms")
        n1 = self.plan.plain[1][0]
        for target in PROXIES:
            for q in ("p50", "p99"):
                self.add(f"added_latency_{q}.{target}.c1", f"added latency {q} vs direct", target,
                         f"c=1, {n1:,} requests, per-round difference, {self.rounds}",
                         self.added(target, "c1", f"{q}_ms"), "ms")
        pairs = zip(self.runs("switchyard", "c32"), self.runs("baseline", "c32"), strict=True)
        ratios = [s["rps"] / b["rps"] for s, b in pairs]
        self.add("throughput_ratio.switchyard.c32", "throughput vs baseline", "switchyard",
                 f"c=32, per-round ratio, {self.rounds}", ratios, "×")

    def streaming(self) -> None:
        chunks, pace, streams, _ = self.plan.stream
        shape = f"{streams} streams one at a time, {chunks} chunks + usage + [DONE] every {pace} ms"
        cond = f"{shape}, {self.rounds}"
        for target in TARGETS:
            for field, measure in (("ttfb", "streaming TTFB (first chunk)"), ("gap", "streaming inter-chunk gap")):
                for q in ("p50", "p99"):
                    self.add(f"{field}_{q}.{target}", f"{measure} {q}", target, cond,
                             self.fig(target, "stream", f"{field}_{q}_ms"), "ms")
            runs = self.runs(target, "stream")
            counts = f"{shape}; worst of {len(runs)} rounds"
            for figure, field, measure in (("stream_intact", "intact", "streams intact (all content, usage, [DONE])"),
                                           ("stream_separate", "separate", "streams with every chunk in its own read")):
                self.add(f"{figure}.{target}", measure, target, f"{counts}: {sum(r[field] for r in runs)} of "
                         f"{sum(r['streams'] for r in runs)} over all rounds",
                         min(100 * r[field] / r["streams"] for r in runs) if runs else None, "%")
        for target in PROXIES:
            for field, measure in (("ttfb", "added streaming TTFB"), ("gap", "added inter-chunk gap")):
                for q in ("p50", "p99"):
                    self.add(f"added_{field}_{q}.{target}", f"{measure} {q} vs direct", target,
                             f"{shape}, per-round difference, {self.rounds}",
                             self.added(target, "stream", f"{field}_{q}_ms"), "ms")

    def responses(self) -> None:
        """Streamed /v1/responses through switchyard (translated to a chat stream upstream) against the
        direct upstream's chat stream of the same shape, in the same rounds."""
        chunks, pace, streams, _ = self.plan.stream
        shape = (f"{streams} Responses streams one at a time (POST /v1/responses, stream: true; {chunks} text deltas "
                 f"every {pace} ms, translated from the upstream's chat stream)")
        vs = "vs the direct upstream's chat stream, per-round difference"
        for field, what in (("total", "added latency, whole stream (to response.completed vs to [DONE])"),
                            ("ttfb", "added TTFB (first text delta vs first chunk)")):
            for q in ("p50", "p99"):
                self.add(f"added_responses_{field}_{q}.switchyard", f"Responses stream: {what} {q}", "switchyard",
                         f"{shape}, {vs}, {self.rounds}",
                         self.added("switchyard", "responses", f"{field}_{q}_ms", base_phase="stream"), "ms")
        runs = self.runs("switchyard", "responses")
        self.add("responses_intact.switchyard", "Responses streams intact (every delta, one response.completed last)",
                 "switchyard", f"{shape}; worst of {len(runs)} rounds: {sum(r['intact'] for r in runs)} of "
                 f"{sum(r['streams'] for r in runs)} over all rounds",
                 min(100 * r["intact"] / r["streams"] for r in runs) if runs else None, "%")

    def limits(self) -> None:
        """Added latency at c=1 with limits on the key, without and with Redis (the shared-limits path)."""
        n1 = self.plan.plain[1][0]
        paired = not self.skipped.get(REDIS)
        pair = f"{2 * n1:,} requests in 2 blocks (order: without, with, with, without Redis)" if paired \
            else f"{n1:,} requests"
        cond = f"c=1, {pair}, per-round difference vs direct, {self.rounds}"
        for target, key in ((LIMITS, "switchyard_limits"), (REDIS, "switchyard_redis")):
            for q in ("p50", "p99"):
                self.add(f"added_latency_{q}.{key}.c1", f"added latency {q} vs direct", target, cond,
                         self.added(target, "c1", f"{q}_ms"), "ms")
        for q in ("p50", "p99"):
            difference = self.added(REDIS, "c1", f"{q}_ms", base=LIMITS)
            value = median(difference)
            goal = None
            if q == "p50":
                goal = (f"within ±{REDIS_MARGIN_MS} ms", value is not None and abs(value) <= REDIS_MARGIN_MS)
            self.add(f"redis_difference_{q}.switchyard_redis.c1", f"Redis: latency {q} with minus without", REDIS,
                     f"c=1, {pair}; vs the same config and key limits without Redis, "
                     f"per-round difference, {self.rounds}",
                     difference, "ms", goal)

    def resources(self) -> None:
        chunks, pace, held = self.plan.hold
        for target in ("baseline", "switchyard"):
            hold = (self.runs(target, "hold") or [{}])[0]
            if hold:
                how = "VmHWM after a reset" if hold["hwm_reset"] else "highest VmRSS sampled every 20 ms"
                cond = (f"{held:,} streams of {chunks} chunks every {pace} ms opened at once; peak open "
                        f"{hold['peak_open']:,}; RSS idle {hold['rss_idle_kb'] / 1024:.1f} MB; {how}")
                complete = hold["intact"] == held and hold["peak_open"] == held
                peak, intact = hold["rss_peak_kb"] / 1024, hold["intact"]
                goal = ("≤ 150 MB, all intact", peak <= 150 and complete) if target == "switchyard" else None
                separate = f"; every chunk in its own read: {hold['separate']:,}"
            else:
                cond, peak, intact, goal, complete, separate = "", None, None, None, False, ""
            self.add(f"peak_rss_streams.{target}", f"peak RSS, {held:,} open streams", target, cond, peak, "MB", goal)
            self.add(f"streams_intact.{target}", f"{held:,} open streams completed intact", target, cond + separate,
                     intact, "streams", (f"all {held:,}", complete))
        n, warm = self.plan.long
        scale = "" if n >= 100_000 else " (quick mode; the full run uses 100,000)"
        for target in ("baseline", "switchyard"):
            long = (self.runs(target, "long") or [{}])[0]
            growth: float | None = None
            how_long = ""
            if long:
                before, after = long["rss_before_kb"] / 1024, long["rss_after_kb"] / 1024
                growth = 100 * (after - before) / before
                how_long = (f"{n:,} requests at c=32 after {warm:,} warm-up{scale}: {before:.1f} -> {after:.1f} MB, "
                        f"peak {long['rss_peak_kb'] / 1024:.1f} MB, {long['errors']} errors")
            self.add(f"rss_growth.{target}", "RSS growth across the long run", target, how_long, growth, "%")

    def cpu(self) -> None:
        per_request: dict[str, float | None] = {}
        for target in TARGETS:
            runs = [r for c in self.plan.plain if c >= 32 for r in self.runs(target, f"c{c}")]
            seconds, requests = sum(r["cpu_seconds"]["target"] for r in runs), sum(r["requests"] for r in runs)
            per_request[target] = seconds / requests * 1e6 if requests else None
            self.add(f"cpu_per_request.{target}", "CPU time per request", target,
                     f"{'the upstream process' if target == 'direct' else 'the proxy process(es)'}: utime+stime "
                     f"(10 ms ticks) over {requests:,} non-streaming requests at c=32 and 256",
                     per_request[target], "µs")
        direct = median(self.fig("direct", "c32", "rps"))
        proxy = median(self.fig("switchyard", "c32", "rps"))
        cpu_us = per_request["direct"]
        cond = "measured directly at c=32, load generator on the same cores (a lower bound)"
        if cpu_us:
            cond += f"; CPU-bound estimate 1e6 / {cpu_us:.1f} µs = {1e6 / cpu_us:,.0f} req/s per core"
        goal = None
        if direct and proxy:
            goal = (f"≥ 10× switchyard c=32 ({10 * proxy:,.0f})", direct >= 10 * proxy)
        self.add("upstream_capacity.direct", "fake upstream sustained throughput", "direct", cond, direct, "req/s",
                 goal)


def build_rows(plan: Plan, results: dict[str, dict[str, list[dict]]], skipped: dict[str, str],
               workers_name: str) -> list[dict[str, object]]:
    rows = Rows(plan, results, skipped)
    rows.plain(workers_name)
    rows.streaming()
    rows.responses()
    rows.limits()
    rows.resources()
    rows.cpu()
    return rows.rows
