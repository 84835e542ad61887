"""`python -m bench [--quick] [--json PATH] [--workers N] [--proxy-config YAML]`: the whole benchmark.

Starts the fake upstream, the baseline pass-through, Switchyard (its CLI, one worker, auth, an
alias rule, usage recording when available) and LiteLLM's proxy when installed, each a separate
process, plus the load generator in its own process. Rounds run interleaved (direct upstream,
baseline, switchyard[, litellm], switchyard with key limits, without and with Redis) and every
figure is the median of the rounds; switchyard also streams Responses API requests (translated
to chat completions upstream). Then the long run (RSS growth) and 1,000 held streams (peak RSS).
Prints a markdown table and writes JSON.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

from bench import targets as tg
from bench.control import Load, merged, pids, shared_store
from bench.figures import LIMITS, REDIS, build_rows
from bench.load import raise_open_files_limit
from bench.plan import FULL, QUICK, Plan
from bench.procs import Children, StartError, stop_on_sigterm
from bench.procstat import foreign_load, machine, own_cpu, system_cpu
from bench.redis_server import redis_missing, start_redis
from bench.report import header, markdown, write_json

DEFAULT_JSON = Path(__file__).resolve().parent / "results.json"


class Bench:
    def __init__(self, plan: Plan, args: argparse.Namespace, children: Children, workdir: Path) -> None:
        self.plan, self.args, self.children, self.workdir = plan, args, children, workdir
        self.started = time.monotonic()
        self.load_before = (system_cpu(), own_cpu())
        self.skipped: dict[str, str] = {}
        self.notes: list[str] = []
        self.results: dict[str, dict[str, list[dict]]] = {}

    def say(self, text: str) -> None:
        print(f"[{time.monotonic() - self.started:5.1f}s] {text}", file=sys.stderr, flush=True)

    def start(self) -> list[tg.Target]:
        extra = yaml.safe_load(Path(self.args.proxy_config).read_text()) or {} if self.args.proxy_config else {}
        if not isinstance(extra, dict):
            raise RuntimeError(f"--proxy-config {self.args.proxy_config}: expected a YAML mapping")
        self.upstream = tg.start_upstream(self.children)
        running = [self.upstream, tg.start_baseline(self.children, self.upstream),
                   tg.start_switchyard(self.children, self.upstream, self.workdir, extra)]
        self.notes += running[-1].notes
        self.workers_name = f"switchyard ({self.args.workers} worker{'s' if self.args.workers > 1 else ''})"
        if (reason := tg.litellm_missing()) is None:
            models = ["bench-chat", self.plan.model(*self.plan.stream[:2]), self.plan.model(*self.plan.hold[:2])]
            try:
                running.append(tg.start_litellm(self.children, self.upstream, self.workdir, models))
            except StartError as exc:
                reason = "litellm proxy did not start: " + str(exc).splitlines()[-1][-160:]
        if reason:
            self.skipped["litellm"] = reason
        if self.args.workers <= 1:
            self.skipped[self.workers_name] = "--workers 1: the switchyard rows are the one-worker figures"
        elif not tg.workers_supported():
            self.skipped[self.workers_name] = "the proxy CLI has no --workers option (python -m src.core.cli --help)"
        else:
            workers = tg.start_switchyard(self.children, self.upstream, self.workdir, extra, "switchyard-workers",
                                          ("--workers", str(self.args.workers)))
            workers.name = self.workers_name
            running.append(workers)
        running += self.start_limits(extra)
        self.load = Load(self.children)
        return running

    def start_limits(self, extra: dict) -> list[tg.Target]:
        """Switchyard with limits on its key, without and (when redis-server is installed) with Redis."""
        try:
            limits = tg.start_switchyard(self.children, self.upstream, self.workdir,
                                         tg.merge(tg.limits_config(), extra), "switchyard-limits")
        except StartError as exc:
            self.skipped[LIMITS] = self.skipped[REDIS] = "did not start: " + str(exc).splitlines()[-1][-160:]
            return []
        limits.name, started = LIMITS, [limits]
        if (reason := redis_missing()) is None:
            try:
                _, port = start_redis(self.children, self.workdir)
                started.append(tg.start_switchyard(self.children, self.upstream, self.workdir,
                                                   tg.merge(tg.limits_config(port), extra), "switchyard-redis"))
                started[-1].name = REDIS
            except StartError as exc:
                reason = "Redis or the proxy with Redis did not start: " + str(exc).splitlines()[-1][-160:]
        if reason:
            self.skipped[REDIS] = reason
            self.notes.append(f"Redis rows skipped: {reason}")
        return started

    def phases(self, target: tg.Target) -> tuple[list[int], list[str]]:
        """What one round measures on a target: the concurrencies of plain requests, and the stream APIs."""
        if target.name == self.workers_name:
            return [c for c in self.plan.plain if c > 1], []
        if target.name in (LIMITS, REDIS):
            return [1], []
        return list(self.plan.plain), ["chat", "responses"] if target.name == "switchyard" else ["chat"]

    def check(self, target: tg.Target) -> None:
        """One request and one stream, answered correctly, before anything is timed."""
        chunks, pace = self.plan.stream[:2]
        plain = self.load("plain", port=target.port, key=target.key, model="bench-chat", n=3, c=1, warmup=0)
        streamed = self.load("stream", port=target.port, key=target.key, model=self.plan.model(chunks, pace),
                             chunks=chunks, n=1, c=1, warmup=0)
        if plain["errors"] or streamed["intact"] != 1:
            raise RuntimeError(f"{target.name} does not answer correctly (plain errors: {plain['errors']}, "
                               f"intact streams: {streamed['intact']}/1)")
        if "responses" in self.phases(target)[1]:
            answered = self.load("stream", port=target.port, key=target.key, model=self.plan.model(chunks, pace),
                                 chunks=chunks, n=1, c=1, warmup=0, api="responses")
            if answered["intact"] != 1:
                raise RuntimeError(f"{target.name} does not answer a streamed /v1/responses request correctly")
        if target.name == REDIS:
            state = shared_store(target.port)
            if state != "up":
                raise RuntimeError(f"{target.name}: /health says the shared store is {state}, not up")

    def rounds(self, running: list[tg.Target]) -> None:
        chunks, pace, streams, warm = self.plan.stream
        names = [t.name for t in running]
        for number in range(1, self.plan.rounds + 1):
            for target in running:
                if target.name == REDIS and LIMITS in names:
                    continue  # measured with its pair, below
                self.say(f"round {number}/{self.plan.rounds}: {target.name}")
                if target.name == LIMITS and REDIS in names:
                    self.pair(target, running[names.index(REDIS)])
                    continue
                phases = self.results.setdefault(target.name, {})
                concurrencies, apis = self.phases(target)
                for c in concurrencies:
                    n, warmup = self.plan.plain[c]
                    phases.setdefault(f"c{c}", []).append(self.load(
                        "plain", port=target.port, key=target.key, model="bench-chat", n=n, c=c, warmup=warmup,
                        pids=pids(target, self.upstream)))
                for api in apis:
                    phases.setdefault("stream" if api == "chat" else api, []).append(self.load(
                        "stream", port=target.port, key=target.key, model=self.plan.model(chunks, pace),
                        chunks=chunks, n=streams, c=1, warmup=warm, pids={}, api=api))

    def pair(self, without: tg.Target, with_redis: tg.Target) -> None:
        """c=1 without and with Redis in the order A B B A (a drift over the round cancels out); each
        target's figure of the round is the mean of its two blocks."""
        n, warmup = self.plan.plain[1]
        blocks: dict[str, list[dict]] = {without.name: [], with_redis.name: []}
        for target in (without, with_redis, with_redis, without):
            blocks[target.name].append(self.load("plain", port=target.port, key=target.key, model="bench-chat",
                                                 n=n, c=1, warmup=warmup, pids=pids(target, self.upstream)))
        for name, runs in blocks.items():
            self.results.setdefault(name, {}).setdefault("c1", []).append(merged(runs))

    def resources(self, running: list[tg.Target]) -> None:
        chunks, pace, held = self.plan.hold
        for target in running:
            if target.name in ("baseline", "switchyard"):
                self.say(f"long run ({self.plan.long[0]:,} requests): {target.name}")
                self.results[target.name]["long"] = [self.load(
                    "plain", port=target.port, key=target.key, model="bench-chat", n=self.plan.long[0], c=32,
                    warmup=self.plan.long[1], pids=pids(target, self.upstream))]
        for target in running:
            if target.name in ("baseline", "switchyard"):
                self.say(f"{held:,} streams held at once: {target.name}")
                self.results[target.name]["hold"] = [self.load(
                    "hold", port=target.port, key=target.key, model=self.plan.model(chunks, pace), chunks=chunks,
                    n=held, timeout=chunks * pace / 1000 + 120, pids=pids(target, self.upstream))]

    def run(self) -> list[dict[str, object]]:
        running = self.start()
        for target in list(running):
            try:
                self.check(target)
            except RuntimeError as exc:
                if target.name not in ("litellm", self.workers_name, LIMITS, REDIS):
                    raise
                self.skipped[target.name] = str(exc)  # an optional comparison: its rows say why
                running.remove(target)
        self.rounds(running)
        self.resources(running)
        others, steal = foreign_load(self.load_before)
        warning = " (figures may be disturbed)" if others + steal > 5 else ""
        self.notes.append(f"other processes used {others:.1f}% of the machine's CPU during the run, "
                          f"hypervisor steal {steal:.1f}%{warning}")
        return build_rows(self.plan, self.results, self.skipped, self.workers_name)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="reduced run (under a minute on 2 cores)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, metavar="PATH", help=f"default {DEFAULT_JSON}")
    parser.add_argument("--workers", type=int, default=2, metavar="N",
                        help="also measure Switchyard with N workers when its CLI has --workers (default 2)")
    parser.add_argument("--proxy-config", metavar="YAML", help="extra YAML merged into the generated proxy config")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.workers < 1:
        print("bench: --workers must be at least 1", file=sys.stderr)
        return 2
    plan = QUICK if args.quick else FULL
    stop_on_sigterm()
    raise_open_files_limit()  # inherited by every child: 1,000 streams need 2,000+ sockets in a proxy
    workdir = Path(tempfile.mkdtemp(prefix="switchyard-bench-"))
    children = Children(workdir)
    bench = Bench(plan, args, children, workdir)
    try:
        rows = bench.run()
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130
    except (StartError, RuntimeError, OSError, yaml.YAMLError) as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    finally:
        children.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)
    seconds = time.monotonic() - bench.started
    wrk = "wrk found but not used" if shutil.which("wrk") else "wrk not installed"
    notes = [*bench.notes, f"load generator: Python (raw asyncio sockets{', uvloop' if _has_uvloop() else ''}), "
             f"one process ({wrk}: the Python driver also checks streams); {plan.mode} run took {seconds:.0f} s"]
    info = machine()
    print(header(info, plan.mode, notes) + "\n\n" + markdown(rows))
    write_json(args.json, info, plan.mode, notes, seconds, rows)
    print(f"\nwritten: {args.json}", file=sys.stderr)
    return 0


def _has_uvloop() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True
