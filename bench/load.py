"""The load generator, in its own process: `python -m bench.load --serve` (JSON commands on stdin,
one JSON result per line on stdout), or one command: `python -m bench.load '{"op": "plain", "port": 8000, ...}'`.

Operations (all on persistent keep-alive connections, one per unit of concurrency):
- `plain`: N non-streaming requests at concurrency c after a warm-up: throughput, p50/p99 latency,
  CPU time per request of the measured processes and their RSS before and after;
- `stream`: N streams at concurrency c: time to the first chunk (TTFB), gaps between chunks, the
  whole stream's time, and whether each stream is intact (all content in order, the usage chunk,
  `[DONE]` last) with every chunk in a read of its own; with `"api": "responses"` the streams are
  Responses API requests (`POST /v1/responses`, `"stream": true`): TTFB and gaps are those of the
  text deltas, and intact means every delta in order and one `response.completed` last;
- `hold`: N streams opened at once and held (a slow-paced upstream stream) while the measured
  processes' RSS is sampled; the peak (VmHWM after a reset, or the highest sample) and the streams intact.
`pids` maps a name to the pids measured under it, e.g. {"target": [123], "upstream": [456]}.
"""

from __future__ import annotations

import asyncio
import gc
import json
import resource
import sys
from collections.abc import Callable
from time import perf_counter

from bench.checks import CHAT, RESPONSES, pct, stream_figures
from bench.httpclient import Connection, Response, connect, request_bytes
from bench.procstat import cpu_seconds, hwm_kb, reset_hwm, rss_kb
from bench.upstream import run


def chat_body(model: str, stream: bool) -> bytes:
    body: dict[str, object] = {"model": model, "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 16}
    if stream:
        body.update(stream=True, stream_options={"include_usage": True})
    return json.dumps(body).encode()


def stream_request(port: int, key: str | None, model: str, api: str) -> bytes:
    """A streamed chat completion, or a streamed Responses request (translated by the proxy)."""
    if api == RESPONSES:
        body = json.dumps({"model": model, "input": "hello", "stream": True}).encode()
        return request_bytes(port, body, key, "/v1/responses")
    return request_bytes(port, chat_body(model, True), key)


async def pool(port: int, size: int) -> list[Connection]:
    gate = asyncio.Semaphore(64)  # ramp: a listen backlog never sees a thousand SYNs at once

    async def one() -> Connection:
        async with gate:
            return await connect(port)

    return await asyncio.gather(*(one() for _ in range(size)))


async def drive(conns: list[Connection], port: int, request: bytes, n: int,
                record: Callable[[float, Response], None] | None = None, stream: bool = False) -> int:
    """n requests shared by the connections' workers; each answer goes to `record(start, response)`.
    Returns the failures (connections lost mid-answer)."""
    left, failures = [n], [0]

    async def worker(index: int) -> None:
        while left[0] > 0:
            left[0] -= 1
            started = perf_counter()
            try:
                response = await conns[index].send(request, stream)
            except ConnectionError:
                failures[0] += 1
                conns[index] = await connect(port)
                continue
            if record is not None:
                record(started, response)

    await asyncio.gather(*(worker(i) for i in range(len(conns))))
    return failures[0]


class Sampler:
    """The highest RSS of some processes, sampled every `interval` seconds while running."""

    def __init__(self, pids: list[int], interval: float) -> None:
        self.pids, self.interval, self.peak_kb = pids, interval, rss_kb(pids)

    async def __aenter__(self) -> Sampler:
        self.task = asyncio.ensure_future(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.task.cancel()
        self.peak_kb = max(self.peak_kb, rss_kb(self.pids))

    async def _run(self) -> None:
        while True:
            self.peak_kb = max(self.peak_kb, rss_kb(self.pids))
            await asyncio.sleep(self.interval)


async def plain(port: int, key: str | None, model: str, n: int, c: int, warmup: int,
                pids: dict[str, list[int]]) -> dict[str, object]:
    conns = await pool(port, c)
    request = request_bytes(port, chat_body(model, False), key)
    target = pids.get("target", [])
    try:
        await drive(conns, port, request, warmup)
        rss_before, cpu_before = rss_kb(target), {name: cpu_seconds(p) for name, p in pids.items()}
        timed: list[tuple[float, bool]] = []  # per request only (latency, answered correctly): a light driver

        def record(started: float, response: Response) -> None:
            timed.append((response.ended - started, response.status == 200 and b'"usage"' in response.body))

        async with Sampler(target, 0.1) as sampler:
            started = perf_counter()
            failures = await drive(conns, port, request, n, record)
            seconds = perf_counter() - started
        cpu = {name: cpu_seconds(p) - cpu_before[name] for name, p in pids.items()}
    finally:
        for conn in conns:
            conn.close()
    latencies = sorted(latency for latency, _ in timed)
    bad = failures + sum(1 for _, ok in timed if not ok)
    return {"requests": n, "concurrency": c, "seconds": seconds, "rps": n / seconds,
            "p50_ms": pct(latencies, 0.5) * 1e3, "p99_ms": pct(latencies, 0.99) * 1e3, "errors": bad,
            "cpu_seconds": cpu, "rss_before_kb": rss_before, "rss_after_kb": rss_kb(target),
            "rss_peak_kb": sampler.peak_kb}


async def stream(port: int, key: str | None, model: str, chunks: int, n: int, c: int, warmup: int,
                 pids: dict[str, list[int]], api: str = CHAT) -> dict[str, object]:
    conns = await pool(port, c)
    request = stream_request(port, key, model, api)
    try:
        await drive(conns, port, request, warmup, stream=True)
        done: list[tuple[float, Response]] = []
        failures = await drive(conns, port, request, n, lambda started, response: done.append((started, response)),
                               stream=True)
    finally:
        for conn in conns:
            conn.close()
    return stream_figures(done, chunks, failures, api)


async def hold(port: int, key: str | None, model: str, chunks: int, n: int, pids: dict[str, list[int]],
               timeout: float) -> dict[str, object]:
    """n streams open at once; the measured processes' RSS while they are held."""
    target = pids.get("target", [])
    request = request_bytes(port, chat_body(model, True), key)
    gate = asyncio.Semaphore(64)
    now_open, peak_open, failures = [0], [0], [0]

    def opened() -> None:
        now_open[0] += 1
        peak_open[0] = max(peak_open[0], now_open[0])

    async def one() -> tuple[float, Response] | None:
        async with gate:
            conn = await connect(port)
        sent = perf_counter()
        try:
            response = await conn.send(request, True, opened)
        except ConnectionError:
            failures[0] += 1
            return None
        finally:
            conn.close()
        now_open[0] -= 1 if response.events else 0
        return sent, response

    rss_idle, reset = rss_kb(target), reset_hwm(target)
    async with Sampler(target, 0.02) as sampler:
        started = perf_counter()
        done = [d for d in await asyncio.wait_for(asyncio.gather(*(one() for _ in range(n))), timeout) if d]
        seconds = perf_counter() - started
    peak = max(sampler.peak_kb, hwm_kb(target)) if reset else sampler.peak_kb
    return {**stream_figures(done, chunks, failures[0]), "peak_open": peak_open[0], "seconds": seconds,
            "rss_idle_kb": rss_idle, "rss_peak_kb": peak, "hwm_reset": reset}


OPERATIONS = {"plain": plain, "stream": stream, "hold": hold}


def execute(command: dict[str, object]) -> dict[str, object]:
    command = dict(command)
    operation = OPERATIONS[str(command.pop("op"))]
    command.setdefault("pids", {})
    try:
        result: list[dict[str, object]] = []

        async def main() -> None:
            result.append(await operation(**command))  # type: ignore[operator]

        gc.disable()  # no collector pauses in the driver while it times requests
        try:
            run(main())
        finally:
            gc.enable()
            gc.collect()
        return {"ok": True, "result": result[0]}
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}


def raise_open_files_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65536 if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def main(argv: list[str]) -> int:
    raise_open_files_limit()  # a thousand streams need a thousand sockets, and more
    if argv[:1] == ["--serve"]:
        for line in sys.stdin:
            if line.strip():
                print(json.dumps(execute(json.loads(line))), flush=True)
        return 0
    if len(argv) != 1 or argv[0].startswith("-"):
        print(__doc__, file=sys.stderr)
        return 2
    print(json.dumps(execute(json.loads(argv[0])), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
