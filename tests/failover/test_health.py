"""Each backend's state for /health, from its last attempts and its cooling keys and routes."""

from __future__ import annotations

from typing import Any

import pytest

from src.failover.health import BackendHealth

OK = {"state": "ok", "keys": [], "cooling_routes": {}}
COOLING = {"state": "degraded", "keys": [], "cooling_routes": {"a:m": {"state": "cooling"}}}
ALL_KEYS = {"state": "down", "keys": [{"key": 0, "state": "cooling"}], "cooling_routes": {}}


class Clock:
    now = 1_714_521_600.0  # 2024-05-01T00:00:00Z

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("events", "cooling", "state"),
    [
        ([], OK, "unknown"),
        ([], ALL_KEYS, "down"),
        ([("ok",)], OK, "ok"),
        ([("failed", "connect")], OK, "down"),
        ([("failed", "timeout")], OK, "down"),
        ([("failed", "status_500")], OK, "degraded"),
        ([("failed", "status_429")], ALL_KEYS, "down"),
        ([("failed", "connect"), ("ok",)], OK, "degraded"),  # failed within the cooldown
        ([("failed", "connect"), ("ok",), ("later",)], OK, "ok"),  # the cooldown is over
        ([("ok",)], COOLING, "degraded"),
    ],
)
def test_states(events: list[tuple[str, ...]], cooling: dict[str, Any], state: str) -> None:
    clock = Clock()
    health = BackendHealth(cooldown=30, clock=clock)
    for event, *kind in events:
        if event == "ok":
            health.succeeded("a")
        elif event == "failed":
            health.failed("a", kind[0])
        else:
            clock.now += 31
    assert health.report({"a": cooling})["a"]["state"] == state


def test_the_last_failure_says_when_and_what() -> None:
    health = BackendHealth(cooldown=30, clock=Clock())
    health.failed("a", "status_429")
    health.succeeded("a")
    assert health.report({"a": OK})["a"]["last_failure"] == {"at": "2024-05-01T00:00:00Z", "kind": "status_429"}
    assert health.report({"b": OK})["b"]["last_failure"] is None
