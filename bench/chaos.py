"""`python -m bench.chaos [--quick] [--streams N] [--max-response-mb MB] [--json PATH] [--proxy-config YAML]`.

N streamed chat completions at once (1,000; 100 with --quick) through the real proxy (its CLI, as
the benchmark starts it) against bench/chaos_upstream.py, each with a fault named by its model:
faults before the first byte (429, 5xx, 401, resets, and a hostile set: the upstream key echoed,
gzip bombs, endless bodies, malformed errors, huge heads) on the first route, which failover to a
second route must recover; faults after content (in-band errors, dropped and reset connections,
a cut event), which must end the stream with one error event; and faults on both routes, which
must end in one well-formed error. Every answer is judged intact, error-terminated or garbled
(bench/chaos_verdict.py). Prints the counts per fault and the proxy's peak RSS; exits 1 when any
answer is garbled, a 5xx is unexpected, an upstream key is in the proxy's log or the peak RSS
reaches 300 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml

from bench import targets as tg
from bench.chaos_verdict import ERROR, GARBLED, INTACT, Verdict, verdict
from bench.checks import expected_text
from bench.httpclient import Connection, connect, request_bytes
from bench.load import Sampler, raise_open_files_limit
from bench.procs import Children, StartError, free_port, stop_on_sigterm
from bench.procstat import hwm_kb, machine, tree
from bench.upstream import run

UPSTREAM_KEYS = ["sk-chaos/upstream-a-7f3e9c1d5b", "sk-chaos/upstream-b-2b8a6e4f0c"]  # `/`: escaped as `\/` in JSON
RSS_LIMIT_MB = 300
CHUNKS = 8
FAULTS = {  # the model chaos-<fault>: (what the upstream does, the verdict failover should give)
    "ok": ("a healthy stream", INTACT),
    "split": ("a healthy stream written 7 bytes at a time", INTACT),
    "429": ("429 on the first route", INTACT),
    "500": ("500 on the first route", INTACT),
    "502-html": ("502 with an HTML body on the first route", INTACT),
    "401": ("401 on the first route", INTACT),
    "reset": ("connection reset before the first byte (first route)", INTACT),
    "close": ("connection closed before the first byte (first route)", INTACT),
    "echo-key": ("401 echoing the upstream key in body and headers (first route)", INTACT),
    "bomb": ("200 JSON, gzip bomb past max_response_mb (first route)", INTACT),
    "bomb-error": ("500, gzip bomb body (first route)", INTACT),
    "endless": ("500 with an endless body (first route)", INTACT),
    "endless-sse": ("200 event stream, an event that never ends (first route)", INTACT),
    "malformed": ("503 with cut JSON (first route)", INTACT),
    "huge-head": ("a 1 MiB response head (first route)", INTACT),
    "mid-error": ("in-band error event echoing the key, after 3 chunks", ERROR),
    "mid-drop": ("connection closed after 3 chunks", ERROR),
    "mid-reset": ("connection reset after 3 chunks", ERROR),
    "mid-cut": ("body ends halfway through an event, after 3 chunks", ERROR),
    "429-both": ("429 on both routes", ERROR),
    "echo-key-both": ("401 echoing the key on both routes", ERROR),
    "reset-both": ("connection reset on both routes", ERROR),
    "malformed-both": ("503 with cut JSON on both routes", ERROR),
    "bomb-both": ("gzip bomb on both routes", ERROR),
    "huge-head-both": ("a 1 MiB head on both routes", ERROR),
}
MIX = ["ok"] * 4 + list(FAULTS)[1:]  # one healthy stream in 7


@dataclass(frozen=True)
class Plan:
    mode: str
    streams: int
    pace_ms: int
    timeout: float  # seconds one answer may take
    max_response_mb: int


QUICK, FULL = Plan("quick", 100, 100, 45, 4), Plan("full", 1000, 300, 90, 4)


def chaos_config(upstream_port: int, plan: Plan) -> dict:
    base = f"http://127.0.0.1:{upstream_port}"
    backend = {"type": "openai", "timeout": 20, "connect_timeout": 5}
    return {
        "log_level": "info",  # every failover decision logged: the log is checked for the keys too
        "default_backend": "a",
        "backends": {"a": {**backend, "base_url": f"{base}/a/v1", "api_key": UPSTREAM_KEYS[0]},
                     "b": {**backend, "base_url": f"{base}/b/v1", "api_key": UPSTREAM_KEYS[1]}},
        "failover_routes": {"a": ["b"]},
        "failover": {"cooldown": 0},  # every request meets its fault: no route is skipped after one
        "max_response_mb": plan.max_response_mb,
        "max_event_mb": 1,
    }


@dataclass
class Outcome:
    fault: str
    verdict: Verdict
    status: int


async def one(port: int, fault: str, gate: asyncio.Semaphore, timeout: float, flight: list[int]) -> Outcome:
    body = json.dumps({"model": f"chaos-{fault}", "messages": [{"role": "user", "content": "hi"}], "stream": True,
                       "stream_options": {"include_usage": True}}).encode()
    try:
        async with gate:
            conn: Connection = await connect(port)
    except OSError as exc:  # the proxy is gone, or refuses connections
        return Outcome(fault, verdict(0, b"", b"", "", [], f"could not connect to the proxy: {exc}"), 0)
    flight[0] += 1
    flight[1] = max(flight[1], flight[0])
    waiter = conn.send(request_bytes(port, body, tg.PROXY_KEY))
    waiter.add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieved, even after a timeout
    failure = ""
    try:
        done, _ = await asyncio.wait({waiter}, timeout=timeout)
        if not done:
            failure = f"no end after {timeout:.0f} s"
        elif waiter.exception() is not None:
            failure = f"the connection was lost before the end of the answer ({waiter.exception()})"
    finally:
        flight[0] -= 1
        conn.close()
    response = conn.response if failure else waiter.result()
    status = response.status if response is not None else 0
    head, data = (response.head, bytes(response.body)) if response is not None else (b"", b"")
    return Outcome(fault, verdict(status, head, data, expected_text(CHUNKS), UPSTREAM_KEYS, failure), status)


async def storm(port: int, plan: Plan, pids: list[int]) -> tuple[list[Outcome], int, float, int]:
    """All the streams at once: their outcomes, the proxy's peak RSS (kB), the seconds, the peak in flight."""
    gate, flight = asyncio.Semaphore(64), [0, 0]
    faults = [MIX[i % len(MIX)] for i in range(plan.streams)]
    async with Sampler(pids, 0.02) as sampler:
        started = time.monotonic()
        outcomes = await asyncio.gather(*(one(port, f, gate, plan.timeout, flight) for f in faults))
        seconds = time.monotonic() - started
    return list(outcomes), max(sampler.peak_kb, hwm_kb(pids)), seconds, flight[1]


def table(outcomes: list[Outcome]) -> tuple[str, Counter[str]]:
    lines = ["| fault | what the upstream does | streams | intact | error-terminated | garbled | expected |",
             "|---|---|---|---|---|---|---|"]
    totals: Counter[str] = Counter()
    for fault, (what, expected) in FAULTS.items():
        counts = Counter(o.verdict.kind for o in outcomes if o.fault == fault)
        totals.update(counts)
        totals["not as expected"] += sum(n for kind, n in counts.items() if kind != expected)
        lines.append(f"| {fault} | {what} | {sum(counts.values())} | {counts[INTACT]} | {counts[ERROR]} | "
                     f"{counts[GARBLED]} | {expected} |")
    lines.append(f"| **all** | | {len(outcomes)} | {totals[INTACT]} | {totals[ERROR]} | {totals[GARBLED]} | |")
    return "\n".join(lines), totals


def log_findings(log: Path) -> tuple[int, int]:
    """(lines of the proxy's log holding an upstream key, tracebacks in it)."""
    text = log.read_text(errors="replace") if log.exists() else ""
    keys = sum(1 for line in text.splitlines() if any(k in line or k.replace("/", "\\/") in line
                                                      for k in UPSTREAM_KEYS))
    return keys, text.count("Traceback (most recent call last)")


def report(plan: Plan, outcomes: list[Outcome], peak_kb: int, seconds: float, in_flight: int, log: Path
           ) -> tuple[str, dict[str, object]]:
    faults, totals = table(outcomes)
    unexpected = sum(1 for o in outcomes if o.verdict.unexpected_5xx)
    expected_5xx = sum(1 for o in outcomes if o.status >= 500 and not o.verdict.unexpected_5xx)
    keys_in_log, tracebacks = log_findings(log)
    peak_mb = peak_kb / 1024
    info = machine()
    figures = [("garbled", totals[GARBLED], "0", totals[GARBLED] == 0),
               ("unexpected 5xx (a 500, or a 5xx without a JSON error body)", unexpected, "0", unexpected == 0),
               ("proxy log lines holding an upstream key", keys_in_log, "0", keys_in_log == 0),
               ("proxy peak RSS (MB; VmHWM and VmRSS sampled every 20 ms)", f"{peak_mb:.1f}",
                f"< {RSS_LIMIT_MB}", peak_mb < RSS_LIMIT_MB),
               ("intact", totals[INTACT], "", None), ("error-terminated", totals[ERROR], "", None),
               ("5xx with a proper error body (502/503/504, expected for faults)", expected_5xx, "", None),
               ("answers not as the fault's expected verdict (informational)", totals["not as expected"], "", None),
               ("tracebacks in the proxy's log (informational)", tracebacks, "", None)]
    lines = [f"# Switchyard chaos run ({plan.mode}: {plan.streams:,} streams)", "",
             f"- machine: {info['cpu']}, {info['cores']} cores; Python {info['python']}; commit {info['commit']}",
             f"- proxy: `python -m src.core.cli`, one worker; route a, failover route b (`failover_routes`), "
             f"cooldown 0, max_response_mb {plan.max_response_mb}, max_event_mb 1, backend timeout 20 s",
             f"- upstream: bench/chaos_upstream.py, {CHUNKS} chunks every {plan.pace_ms} ms; "
             f"{plan.streams:,} streams started at once, peak {in_flight:,} in flight; took {seconds:.1f} s", "",
             faults, "", "| figure | value | goal | met? |", "|---|---|---|---|"]
    lines += [f"| {name} | {value} | {goal} | {'' if met is None else 'yes' if met else '**no**'} |"
              for name, value, goal, met in figures]
    garbled = [o for o in outcomes if o.verdict.kind == GARBLED]
    if garbled:
        lines += ["", "Garbled answers (first 10):"]
        lines += [f"- {o.fault} (status {o.status}): {o.verdict.reason}" for o in garbled[:10]]
    data: dict[str, object] = {"streams": plan.streams, "intact": totals[INTACT], "error_terminated": totals[ERROR],
            "garbled": totals[GARBLED], "unexpected_5xx": unexpected, "keys_in_log": keys_in_log,
            "peak_rss_mb": round(peak_mb, 1), "peak_in_flight": in_flight, "seconds": round(seconds, 1),
            "not_as_expected": totals["not as expected"], "tracebacks_in_log": tracebacks,
            "ok": all(met for *_, met in figures if met is not None)}
    return "\n".join(lines), data


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK.streams} streams instead of {FULL.streams:,}")
    parser.add_argument("--streams", type=int, metavar="N", help="this many streams (default: per mode)")
    parser.add_argument("--max-response-mb", type=int, metavar="MB", help="the proxy's max_response_mb (default 4); "
                        "the gzip bombs decode to 16 times as much")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the counts as JSON")
    parser.add_argument("--proxy-config", metavar="YAML", help="extra YAML merged into the generated proxy config")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = QUICK if args.quick else FULL
    if args.streams:
        plan = dataclasses.replace(plan, streams=args.streams)
    if args.max_response_mb:
        plan = dataclasses.replace(plan, max_response_mb=args.max_response_mb)
    stop_on_sigterm()
    raise_open_files_limit()
    workdir = Path(tempfile.mkdtemp(prefix="switchyard-chaos-"))
    children = Children(workdir)
    try:
        extra = yaml.safe_load(Path(args.proxy_config).read_text()) or {} if args.proxy_config else {}
        port = free_port()
        upstream = children.python("chaos-upstream", ["-m", "bench.chaos_upstream", "--port", str(port),
                                                      "--bomb-mb", str(16 * plan.max_response_mb),
                                                      "--chunks", str(CHUNKS), "--pace-ms", str(plan.pace_ms)])
        upstream.wait_ready(port)
        target = tg.Target("upstream", port, None, upstream.pid)
        proxy = tg.start_switchyard(children, target, workdir, tg.merge(chaos_config(port, plan), extra), "chaos-proxy")
        outcomes, peak_kb, seconds, in_flight = run_storm(proxy, plan)
        text, data = report(plan, outcomes, peak_kb, seconds, in_flight, workdir / "chaos-proxy.log")
    except KeyboardInterrupt:
        print("chaos: interrupted", file=sys.stderr)
        return 130
    except (StartError, RuntimeError, OSError, yaml.YAMLError) as exc:
        print(f"chaos: {exc}", file=sys.stderr)
        return 2
    finally:
        children.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(data, indent=2) + "\n")
    return 0 if data["ok"] else 1


def run_storm(proxy: tg.Target, plan: Plan) -> tuple[list[Outcome], int, float, int]:
    result: list[tuple[list[Outcome], int, float, int]] = []

    async def go() -> None:
        result.append(await storm(proxy.port, plan, tree(proxy.pid)))

    run(go())
    return result[0]


if __name__ == "__main__":
    sys.exit(main())
