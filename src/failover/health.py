"""What each backend's last attempts say about it, for `/health`.

A backend is `unknown` until it is tried; `down` when all its keys are cooling, or when its last
attempt could not reach it (no connection, no answer in time); `degraded` when it failed within
the cooldown or a key or route of it is cooling; `ok` otherwise. Only failures that move a request
on count: a 400 is the request's problem, and a 500 for one model does not make a backend down.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

UNREACHABLE = ("connect", "timeout")  # failure kinds that say the backend itself cannot be reached


@dataclass(slots=True)
class _Seen:
    last_ok: bool = True
    failed_at: float | None = None  # wall clock
    failure: str | None = None  # its kind: status_429, timeout, connect, protocol


class BackendHealth:
    def __init__(self, cooldown: float, clock: Callable[[], float] = time.time) -> None:
        self._cooldown = cooldown
        self._clock = clock
        self._seen: dict[str, _Seen] = {}  # one per configured backend: bounded

    def succeeded(self, backend: str) -> None:
        self._seen.setdefault(backend, _Seen()).last_ok = True

    def failed(self, backend: str, kind: str) -> None:
        seen = self._seen.setdefault(backend, _Seen())
        seen.last_ok, seen.failed_at, seen.failure = False, self._clock(), kind

    def report(self, cooling: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Each backend of `cooling` (Cooldowns.state) with its state and its last failure."""
        now = self._clock()
        report = {}
        for backend, entry in cooling.items():
            seen = self._seen.get(backend)
            state = entry["state"]
            if seen is None:
                state = "unknown" if state == "ok" else state
            elif not seen.last_ok and seen.failure in UNREACHABLE:
                state = "down"
            elif not seen.last_ok and state != "down" or state == "ok" and seen.failed_at is not None and now - seen.failed_at < self._cooldown:
                state = "degraded"
            last = None if seen is None or seen.failed_at is None else {"at": _iso(seen.failed_at), "kind": seen.failure}
            report[backend] = {**entry, "state": state, "last_failure": last}
        return report


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
