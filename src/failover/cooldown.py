"""Routes and keys that failed recently, skipped by later requests until their cooldown ends.

The one piece of state requests share on purpose: what one request learned about a
failing upstream spares the next one the wait. It only orders choices, never removes
them, so a request still tries a cooling route when nothing else is left.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from src.sharing.store import Cooling

T = TypeVar("T")
MAX_COOLING = 10_000  # routes (or keys) cooling at once; a client's made-up models cannot grow it further


class Cooldowns:
    def __init__(
        self,
        seconds: float,
        clock: Callable[[], float] = time.monotonic,
        announce: Callable[[Cooling], None] | None = None,
    ) -> None:
        self._seconds = seconds
        self._clock = clock
        self._announce = announce  # tells the other processes (src.sharing), when there are any
        self._routes: dict[str, float] = {}  # "backend:model" -> end of its cooldown
        self._keys: dict[tuple[str, int], float] = {}  # (backend, key position) -> end

    def cool_route(self, route: str) -> None:
        self._cool(self._routes, route)
        if self._announce is not None and self._seconds:
            self._announce(Cooling("route", route, self._seconds))

    def cool_key(self, backend: str, key: int) -> None:
        self._cool(self._keys, (backend, key))
        if self._announce is not None and self._seconds:
            self._announce(Cooling("key", f"{backend}#{key}", self._seconds))

    def mirror(self, cooling: Cooling) -> None:
        """A cooldown another process announced; a longer one here is kept."""
        if cooling.kind == "route":
            self._cool(self._routes, cooling.name, cooling.seconds)
        elif cooling.kind == "key":
            backend, _, position = cooling.name.rpartition("#")
            if position.isdigit():
                self._cool(self._keys, (backend, int(position)), cooling.seconds)

    def _cool(self, table: dict[Any, float], item: Any, seconds: float | None = None) -> None:
        if not self._seconds:
            return
        now = self._clock()
        until = max(table.pop(item, 0.0), now + (self._seconds if seconds is None else seconds))
        table[item] = until  # nearly every entry cools as long: the table stays in order of its end
        while table and (len(table) > MAX_COOLING or next(iter(table.values())) <= now):
            del table[next(iter(table))]

    def route_ready(self, route: str) -> bool:
        return self._ready(self._routes, route)

    def key_ready(self, backend: str, key: int) -> bool:
        return self._ready(self._keys, (backend, key))

    def _ready(self, table: dict[Any, float], item: Any) -> bool:
        until = table.get(item)
        if until is None:
            return True
        if self._clock() >= until:
            del table[item]
            return True
        return False

    def order_routes(self, routes: Sequence[T], name: Callable[[T], str] = str) -> list[T]:
        """Ready routes first, cooling ones after, each group in its own order."""
        if not self._routes:
            return list(routes)  # the usual case: nothing has failed lately
        return _ready_first(routes, lambda route: self.route_ready(name(route)))

    def order_keys(self, backend: str, keys: Iterable[int]) -> list[int]:
        if not self._keys:
            return list(keys)
        return _ready_first(list(keys), lambda key: self.key_ready(backend, key))

    def state(self, key_counts: Mapping[str, int]) -> dict[str, Any]:
        """Each backend's keys by position, and its cooling routes, with seconds left; for /health."""
        now = self._clock()
        report: dict[str, Any] = {}
        for backend, count in key_counts.items():
            keys = [self._entry(self._keys.get((backend, i)), now) | {"key": i} for i in range(count)]
            routes = {
                route: self._entry(until, now)
                for route, until in self._routes.items()
                if route.partition(":")[0] == backend and until > now
            }
            cooling = any(k["state"] == "cooling" for k in keys) or routes
            all_keys_cooling = bool(keys) and all(k["state"] == "cooling" for k in keys)
            state = "down" if all_keys_cooling else "degraded" if cooling else "ok"
            report[backend] = {"state": state, "keys": keys, "cooling_routes": routes}
        return report

    @staticmethod
    def _entry(until: float | None, now: float) -> dict[str, Any]:
        if until is None or until <= now:
            return {"state": "ok"}
        return {"state": "cooling", "seconds_left": round(until - now, 1)}


def _ready_first(items: Sequence[T], ready: Callable[[T], bool]) -> list[T]:
    """Linear: each item's readiness is asked once."""
    flags = [ready(item) for item in items]
    return [item for item, ok in zip(items, flags, strict=True) if ok] + [
        item for item, ok in zip(items, flags, strict=True) if not ok
    ]
