"""Cooldowns: routes and keys that failed are skipped by later requests, only reordered, never removed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from src.failover.cooldown import MAX_COOLING, Cooldowns
from src.routing.plan import Route


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_route_cools_then_recovers(clock: Clock) -> None:
    cool = Cooldowns(30, clock)
    assert cool.route_ready("a:x")
    cool.cool_route("a:x")
    assert not cool.route_ready("a:x")
    assert cool.route_ready("a:y") and cool.route_ready("b:x")
    clock.now += 29.9
    assert not cool.route_ready("a:x")
    clock.now += 0.1
    assert cool.route_ready("a:x")
    clock.now -= 10  # an expired cooldown is forgotten, not revived
    assert cool.route_ready("a:x")


def test_key_cools_per_backend_and_position(clock: Clock) -> None:
    cool = Cooldowns(10, clock)
    cool.cool_key("a", 1)
    assert [cool.key_ready("a", i) for i in range(3)] == [True, False, True]
    assert cool.key_ready("b", 1)
    assert cool.route_ready("a:1") and cool.route_ready("a")  # keys and routes are separate tables
    clock.now += 10
    assert cool.key_ready("a", 1)


def test_cooling_again_restarts_the_cooldown(clock: Clock) -> None:
    cool = Cooldowns(30, clock)
    cool.cool_route("a:x")
    clock.now += 20
    cool.cool_route("a:x")
    clock.now += 20
    assert not cool.route_ready("a:x")
    clock.now += 10
    assert cool.route_ready("a:x")


def test_zero_cooldown_disables(clock: Clock) -> None:
    cool = Cooldowns(0, clock)
    cool.cool_route("a:x")
    cool.cool_key("a", 0)
    assert cool.route_ready("a:x") and cool.key_ready("a", 0)
    assert cool.order_routes(["a:x", "b:y"]) == ["a:x", "b:y"]
    assert cool.state({"a": 1}) == {"a": {"state": "ok", "keys": [{"state": "ok", "key": 0}], "cooling_routes": {}}}


@pytest.mark.parametrize(
    ("cooling", "routes", "expected"),
    [
        ([], ["a:x", "b:y", "c:z"], ["a:x", "b:y", "c:z"]),
        (["a:x"], ["a:x", "b:y", "c:z"], ["b:y", "c:z", "a:x"]),
        (["b:y"], ["a:x", "b:y", "c:z"], ["a:x", "c:z", "b:y"]),
        (["c:z", "a:x"], ["a:x", "b:y", "c:z"], ["b:y", "a:x", "c:z"]),  # cooling ones keep their own order
        (["a:x", "b:y", "c:z"], ["a:x", "b:y", "c:z"], ["a:x", "b:y", "c:z"]),  # nothing else left: all still there
        (["a:x"], ["a:x"], ["a:x"]),
        (["z:z"], ["a:x", "b:y"], ["a:x", "b:y"]),
        (["a:x"], [], []),
    ],
)
def test_order_routes(clock: Clock, cooling: list[str], routes: list[str], expected: list[str]) -> None:
    cool = Cooldowns(30, clock)
    for route in cooling:
        cool.cool_route(route)
    assert cool.order_routes(routes) == expected


def test_order_routes_by_their_names(clock: Clock) -> None:
    cool = Cooldowns(30, clock)
    first, second = Route("a", "x"), Route("b", "y", {"temperature": 0.1})
    cool.cool_route("a:x")
    assert cool.order_routes([first, second]) == [second, first]
    assert cool.order_routes([first, second], name=lambda route: route.backend) == [first, second]
    clock.now += 30
    assert cool.order_routes([first, second]) == [first, second]


@pytest.mark.parametrize(
    ("cooling", "keys", "expected"),
    [
        ([], [2, 0, 1], [2, 0, 1]),
        ([0], [2, 0, 1], [2, 1, 0]),
        ([2], [2, 0, 1], [0, 1, 2]),
        ([2, 0], [2, 0, 1], [1, 2, 0]),
        ([0, 1, 2], [1, 2, 0], [1, 2, 0]),
        ([5], [0, 1], [0, 1]),
    ],
)
def test_order_keys(clock: Clock, cooling: list[int], keys: list[int], expected: list[int]) -> None:
    cool = Cooldowns(30, clock)
    for key in cooling:
        cool.cool_key("a", key)
    cool.cool_key("b", 1)  # another backend's key changes nothing here
    assert cool.order_keys("a", iter(keys)) == expected


def test_state_all_ok(clock: Clock) -> None:
    cool = Cooldowns(30, clock)
    assert cool.state({"a": 2, "hybrid": 0}) == {
        "a": {"state": "ok", "keys": [{"state": "ok", "key": 0}, {"state": "ok", "key": 1}], "cooling_routes": {}},
        "hybrid": {"state": "ok", "keys": [], "cooling_routes": {}},
    }


def test_state_report(clock: Clock) -> None:
    cool = Cooldowns(30, clock)
    cool.cool_key("a", 1)
    clock.now += 10
    cool.cool_key("b", 0)
    cool.cool_key("b", 1)
    cool.cool_route("c:model/x")
    cool.cool_route("a:m")
    clock.now += 5.04
    report: dict[str, Any] = cool.state({"a": 2, "b": 2, "c": 0, "d": 1})
    assert report == {
        "a": {
            "state": "degraded",
            "keys": [{"state": "ok", "key": 0}, {"state": "cooling", "seconds_left": 15.0, "key": 1}],
            "cooling_routes": {"a:m": {"state": "cooling", "seconds_left": 25.0}},
        },
        "b": {
            "state": "down",
            "keys": [
                {"state": "cooling", "seconds_left": 25.0, "key": 0},
                {"state": "cooling", "seconds_left": 25.0, "key": 1},
            ],
            "cooling_routes": {},
        },
        "c": {
            "state": "degraded",
            "keys": [],
            "cooling_routes": {"c:model/x": {"state": "cooling", "seconds_left": 25.0}},
        },
        "d": {"state": "ok", "keys": [{"state": "ok", "key": 0}], "cooling_routes": {}},
    }


def test_state_forgets_what_expired(clock: Clock) -> None:
    cool = Cooldowns(30, clock)
    cool.cool_key("a", 0)
    cool.cool_route("a:m")
    clock.now += 30
    assert cool.state({"a": 1}) == {"a": {"state": "ok", "keys": [{"state": "ok", "key": 0}], "cooling_routes": {}}}


def test_state_names_no_key(clock: Clock) -> None:
    """Keys appear by position only: the report goes to /health, which needs no proxy key."""
    cool = Cooldowns(30, clock)
    cool.cool_key("a", 0)
    entry = cool.state({"a": 1})["a"]["keys"][0]
    assert set(entry) == {"state", "seconds_left", "key"}
    assert entry["key"] == 0


def test_hybrid_routes_belong_to_their_hybrid(clock: Clock) -> None:
    cool = Cooldowns(30, clock)
    cool.cool_route("think:[a:x,b:y]")
    report = cool.state({"think": 0, "a": 0, "b": 0})
    assert report["think"]["cooling_routes"] == {"think:[a:x,b:y]": {"state": "cooling", "seconds_left": 30.0}}
    assert report["think"]["state"] == "degraded"
    assert report["a"]["state"] == report["b"]["state"] == "ok"


def test_default_clock_is_monotonic() -> None:
    cool = Cooldowns(30)
    cool.cool_route("a:x")
    assert not cool.route_ready("a:x")
    assert cool.state({"a": 0})["a"]["cooling_routes"]["a:x"]["seconds_left"] == pytest.approx(30.0, abs=0.2)


class Counting:
    """Wraps a readiness check and records every name it is asked about."""

    def __init__(self, check: Callable[..., bool]) -> None:
        self.check = check
        self.asked: Counter[object] = Counter()

    def __call__(self, *item: Any) -> bool:
        self.asked[item] += 1
        return self.check(*item)


def test_ordering_many_routes_asks_each_route_once(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ordering is linear: 10,000 routes, a tenth of them cooling, cost 10,000 readiness checks."""
    cool = Cooldowns(30, clock)
    routes = [f"b{i}:m" for i in range(10_000)]
    cooling = routes[::10]
    ready = [route for position, route in enumerate(routes) if position % 10]
    for route in cooling:
        cool.cool_route(route)
    counting = Counting(cool.route_ready)
    monkeypatch.setattr(cool, "route_ready", counting)
    ordered = cool.order_routes(routes)
    assert ordered == ready + cooling
    assert counting.asked.total() == len(routes)
    assert set(counting.asked.values()) == {1}


def test_ordering_many_keys_asks_each_key_once(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    cool = Cooldowns(30, clock)
    keys = list(range(10_000))
    for key in keys[::7]:
        cool.cool_key("a", key)
    counting = Counting(cool.key_ready)
    monkeypatch.setattr(cool, "key_ready", counting)
    ordered = cool.order_keys("a", keys)
    assert ordered == [k for k in keys if k % 7] + keys[::7]
    assert counting.asked.total() == len(keys)
    assert set(counting.asked.values()) == {1}


def test_what_cools_is_bounded_and_expired_entries_go_first(clock: Clock) -> None:
    cooldowns = Cooldowns(30, clock)
    for i in range(MAX_COOLING + 500):  # a client's made-up models, each failing once
        cooldowns.cool_route(f"openrouter:made-up-{i}")
    assert len(cooldowns._routes) == MAX_COOLING
    assert cooldowns.route_ready("openrouter:made-up-0")  # the oldest made room
    assert not cooldowns.route_ready(f"openrouter:made-up-{MAX_COOLING + 499}")
    clock.now += 31
    cooldowns.cool_route("openrouter:fresh")
    assert list(cooldowns._routes) == ["openrouter:fresh"]  # the expired ones left as it was added
