"""Three proxies with one Redis: a cooldown one of them learns reaches the other two at once, and a
Redis that stops mid-run fails no request (each proxy keeps to its share) and is shared again once back."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.fakes.proxy import PROXY_KEY, RunningProxy
from tests.fakes.redis import RedisServer, redis_fixture  # noqa: F401
from tests.fakes.scripted import ScriptedUpstream, Step
from tests.sharing.instances import (
    BOB_KEY,
    Start,
    cooling_routes,
    error_code,
    gauge,
    health,
    instances_config,
    one,
    send_all,
    spread,
    start_instances,
    store_state,
    wait_until,
)

INSTANCES = 3
GUARD = 5.0  # seconds a cooldown may take to show elsewhere before the test fails: a guard, not the target
# (the delays measured are printed: `pytest -s`; the issue asks for 100 ms)
CAROL_KEY = "sy-test-carol-key-00003"
KEYS: list[dict[str, Any]] = [
    {"name": "alice", "key": PROXY_KEY, "rpm": 60},
    {"name": "bob", "key": BOB_KEY},  # no limit
    {"name": "carol", "key": CAROL_KEY, "rpm": 6},  # first used once Redis is back
]


def seen_everywhere(proxies: list[RunningProxy], is_cooling: Callable[[dict[str, Any]], bool],
                    failed: Callable[[], bool]) -> list[float]:  # fmt: skip
    """Seconds from the moment the failure reached the upstream (`failed()` turned true, as far as a
    look every millisecond or so can tell) until each proxy's /health shows the cooldown."""
    started, found = time.monotonic(), [0.0] * len(proxies)
    pending, failed_at = set(range(len(proxies))), None
    with httpx.Client(verify=False, timeout=10) as client:  # one connection each: a look takes about a ms
        while pending and time.monotonic() - started < GUARD:
            looked = time.monotonic()
            if failed_at is None and failed():
                failed_at = looked
            for n in list(pending):
                if is_cooling(client.get(f"{proxies[n].url}/health").json()["backends"]):
                    if failed_at is None:  # the failure came since this round's first look at the upstream
                        assert failed(), "cooling before the upstream failed"
                        failed_at = looked
                    found[n] = time.monotonic() - failed_at
                    pending.discard(n)
    assert not pending, f"instances {sorted(pending)} never saw the cooldown"
    return found


@pytest.fixture
def cooling_instances(scripted: ScriptedUpstream, start_proxy: Start, redis: RedisServer) -> list[RunningProxy]:
    upstream = {"type": "openai", "base_url": scripted.base_url, "timeout": 5}
    backends = {"a": {**upstream, "api_keys": ["sk-up-a-k1-01", "sk-up-a-k2-02"]},  # key 0 is the one refused
                "b": {**upstream, "api_key": "sk-up-b-0001"}}  # fmt: skip
    config = instances_config(scripted.base_url, {"url": redis.url, "prefix": redis.prefix()}, KEYS[:1],
                              backends=backends, failover_routes={"b:m1": ["a:m2"]},
                              failover={"cooldown": 30, "max_retry_wait": 1})  # fmt: skip
    return start_instances(start_proxy, config, INSTANCES)


def test_a_429_on_one_instance_cools_the_route_on_the_others(
    cooling_instances: list[RunningProxy], scripted: ScriptedUpstream
) -> None:
    first, *others = cooling_instances
    scripted.script("m1", Step(status=429))
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(one, first, model="b:m1")
        found = seen_everywhere(others, lambda backends: "b:m1" in backends["b"]["cooling_routes"],
                                lambda: "m1" in scripted.models())  # fmt: skip
    print(f"\nroute cooldown shown by the other instances after {[f'{d * 1000:.1f} ms' for d in found]}")
    answer = pending.result()
    assert (answer.status_code, answer.headers["x-switchyard-route"]) == (200, "a:m2")
    assert "b:m1" in cooling_routes(first, "b")
    for proxy in others:
        assert 25 < cooling_routes(proxy, "b")["b:m1"]["seconds_left"] <= 30
        answer = one(proxy, model="b:m1")  # skipped there too: straight to the fallback
        assert (answer.headers["x-switchyard-route"], answer.headers["x-switchyard-attempts"]) == ("a:m2", "1")
    assert scripted.models() == ["m1", "m2", "m2", "m2"]


def test_a_refused_upstream_key_cools_on_every_instance(
    cooling_instances: list[RunningProxy], scripted: ScriptedUpstream
) -> None:
    first, *others = cooling_instances
    scripted.reject_key("sk-up-a-k1-01", 401)
    with ThreadPoolExecutor(1) as pool:
        answers = pool.submit(lambda: [one(first, model="a:m3").status_code for _ in range(2)])  # one meets k1
        found = seen_everywhere(others, lambda backends: backends["a"]["keys"][0]["state"] == "cooling",
                                lambda: "sk-up-a-k1-01" in [seen.key for seen in scripted.requests])  # fmt: skip
    print(f"\nkey cooldown shown by the other instances after {[f'{d * 1000:.1f} ms' for d in found]}")
    assert answers.result() == [200, 200]
    assert all(health(proxy)["backends"]["a"]["keys"][1] == {"state": "ok", "key": 1} for proxy in others)


def statuses(requests: list[tuple[RunningProxy, str, str]]) -> list[int]:
    return [r.status_code for r in send_all(requests)]


def test_redis_stopped_mid_run_fails_no_request_and_sharing_resumes_once_it_is_back(
    scripted: ScriptedUpstream, start_proxy: Start, redis: RedisServer
) -> None:
    config = instances_config(scripted.base_url, {"url": redis.url, "prefix": redis.prefix()}, KEYS)
    proxies = start_instances(start_proxy, config, INSTANCES)
    assert [one(proxies[n % INSTANCES]).status_code for n in range(6)] == [200] * 6  # two each
    assert {gauge(p) for p in proxies} == {0.0}

    with redis.down():
        # At once, before any instance has noticed: nothing fails because of it.
        assert statuses(spread(proxies, 6) + spread(proxies, 6, BOB_KEY)) == [200] * 12
        assert wait_until(lambda: all(store_state(p) == "down" for p in proxies))
        assert {gauge(p) for p in proxies} == {1.0}
        assert all(health(p)["shared_store"]["reason"] for p in proxies)
        assert statuses(spread(proxies, 9) + spread(proxies, 30, BOB_KEY)) == [200] * 39
        # alice's rpm degrades to each instance's share, 60 // 3: the first has used 2 + 2 + 3 of it.
        more = [one(proxies[0]) for _ in range(14)]
        assert [r.status_code for r in more] == [200] * 13 + [429]
        assert error_code(more[-1]) == "rate_limit_exceeded"
        assert "of 20 per minute" in more[-1].json()["error"]["message"]

    assert wait_until(lambda: all(store_state(p) == "up" for p in proxies))
    assert {gauge(p) for p in proxies} == {0.0}
    on_first, on_others = carol(proxies)
    assert on_first.count(200) > 2, on_first  # more than its share alone (6 // 3): one limit for the three again
    assert on_first[-1] == on_others[-1] == 429


def carol(proxies: list[RunningProxy]) -> tuple[list[int], list[int]]:
    """carol's requests (rpm 6), one at a time: ten on the first instance, then ten on the other two."""
    on_first = [one(proxies[0], CAROL_KEY).status_code for _ in range(10)]
    return on_first, [one(proxies[n % 2 + 1], CAROL_KEY).status_code for n in range(10)]


def test_once_redis_is_back_empty_an_rpm_is_never_exceeded_across_instances(
    scripted: ScriptedUpstream, start_proxy: Start, redis: RedisServer
) -> None:
    config = instances_config(scripted.base_url, {"url": redis.url, "prefix": redis.prefix()}, KEYS)
    proxies = start_instances(start_proxy, config, INSTANCES)
    with redis.down():
        assert wait_until(lambda: all(store_state(p) == "down" for p in proxies))
    assert wait_until(lambda: all(store_state(p) == "up" for p in proxies))

    on_first, on_others = carol(proxies)

    assert on_first.count(200) + on_others.count(200) <= 6, (on_first, on_others)


def test_a_redis_that_hangs_holds_no_request_long(
    scripted: ScriptedUpstream, start_proxy: Start, redis: RedisServer
) -> None:
    config = instances_config(scripted.base_url, {"url": redis.url, "prefix": redis.prefix()}, KEYS)
    proxies = start_instances(start_proxy, config, INSTANCES)
    with redis.paused():  # connections stay open, nothing is answered: each sync waits for its timeout
        started = time.monotonic()
        answered = statuses(spread(proxies, 9) + spread(proxies, 9, BOB_KEY))  # three each: leases run out
        waited = time.monotonic() - started
        assert wait_until(lambda: all(store_state(p) == "down" for p in proxies))
        assert {gauge(p) for p in proxies} == {1.0}
    assert waited < 5  # a guard: no request waited for Redis to wake
    assert answered[9:] == [200] * 9  # bob has no limit: nothing to wait for
    assert set(answered[:9]) == {200}  # alice's, on each instance's share while the store was down
    assert wait_until(lambda: all(store_state(p) == "up" for p in proxies))
    assert {gauge(p) for p in proxies} == {0.0}
