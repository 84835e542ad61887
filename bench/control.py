"""The bench's side of its processes: the load generator's pipe, the pids measured, the proxy's /health."""

from __future__ import annotations

import http.client
import json
import select
import statistics

from bench import targets as tg
from bench.procs import Children
from bench.procstat import tree


class Load:
    """The load generator process (bench/load.py --serve): one JSON command, one JSON answer."""

    def __init__(self, children: Children) -> None:
        self.child = children.python("load", ["-m", "bench.load", "--serve"], pipes=True)
        stdin, stdout = self.child.popen.stdin, self.child.popen.stdout
        if stdin is None or stdout is None:  # started with pipes=True: never
            raise RuntimeError("the load generator was started without pipes")
        self.stdin, self.stdout = stdin, stdout

    def __call__(self, op: str, wait: float = 900, **args: object) -> dict:
        self.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.stdin.flush()
        if not select.select([self.stdout], [], [], wait)[0]:
            raise RuntimeError(f"the load generator gave no answer to {op} in {wait:.0f} s")
        line = self.stdout.readline()
        if not line:
            raise RuntimeError(f"the load generator died:\n{self.child.tail()}")
        reply = json.loads(line)
        if not reply["ok"]:
            raise RuntimeError(f"load generator, {op}: {reply['error']}")
        return reply["result"]


def shared_store(port: int) -> str:
    """The state of the shared store (Redis) in the proxy's /health, or why it is not known."""
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        connection.request("GET", "/health")
        report = json.loads(connection.getresponse().read())
        connection.close()
    except (OSError, ValueError) as exc:
        return f"unknown ({exc})"
    store = report.get("shared_store") if isinstance(report, dict) else None
    return str(store.get("state")) if isinstance(store, dict) else "not reported"


def pids(target: tg.Target, upstream: tg.Target) -> dict[str, list[int]]:
    if target is upstream:
        return {"target": [upstream.pid]}
    return {"target": tree(target.pid), "upstream": [upstream.pid]}


def merged(blocks: list[dict]) -> dict:
    """Several measurements of one target in one round as one: the mean of their figures."""
    means = {k: statistics.fmean(b[k] for b in blocks) for k in ("p50_ms", "p99_ms", "rps", "seconds")}
    return {**blocks[0], **means, "requests": sum(b["requests"] for b in blocks), "blocks": blocks}
