"""`/metrics` across the worker processes of `--workers N`: one consistent set of series.

Each worker writes a snapshot of its registry into a folder they share, every INTERVAL seconds
and whenever it answers a scrape, and a scrape merges every worker's snapshot. A snapshot file
is only ever replaced by a newer one (written aside, then renamed), and the worker answering a
scrape writes its own first, so each worker's share of a counter never goes back between two
scrapes, whichever workers answer them: counters never decrease. A worker that exits keeps its
counts in the sum; its streams in flight no longer count.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import orjson

from src.usage.metrics import STREAMS_IN_FLIGHT, ProxyMetrics

log = logging.getLogger("switchyard.metrics")
INTERVAL = 1.0  # seconds between a worker's snapshots
SUFFIX = ".metrics.json"


class SharedMetrics:
    def __init__(self, directory: Path, own: ProxyMetrics) -> None:
        self._directory = directory
        self._own = own
        self._pid = os.getpid()
        self._file = directory / f"{self._pid}{SUFFIX}"

    def write(self) -> None:
        snapshot = {"pid": self._pid, "metrics": self._own.registry.snapshot()}
        aside = self._file.with_suffix(".tmp")
        aside.write_bytes(orjson.dumps(snapshot))
        os.replace(aside, self._file)

    def render(self) -> str:
        self.write()
        merged = ProxyMetrics()
        for path in sorted(self._directory.glob(f"*{SUFFIX}")):
            try:
                snapshot = orjson.loads(path.read_bytes())
            except (OSError, orjson.JSONDecodeError):
                continue  # a worker's file is replaced whole, so this is one that went away
            gone = snapshot.get("pid") != self._pid and not _alive(snapshot.get("pid"))
            merged.registry.merge(snapshot.get("metrics", {}), skip=(STREAMS_IN_FLIGHT,) if gone else ())
        return merged.render()

    async def run(self) -> None:
        """Writes a snapshot every INTERVAL until cancelled, and a last one then."""
        try:
            while True:
                await asyncio.sleep(INTERVAL)
                # On the loop, not a thread: the registry changes on the loop, and two writes must
                # not finish out of order (an older snapshot would replace a newer one).
                self.write()
        finally:
            self.write()


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
