"""Spend counts requests in flight (src/usage/limits.py): once a key's per-request cost is known, a burst
of concurrent requests overshoots its budget by at most one request in all; rpm holds under a burst too."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from src.config import Config
from tests.e2e.usage_helpers import (
    ADMIN,
    ADMIN_KEY,
    MESSAGES,
    PricedUpstream,
    auth,
    chat,
    get_usage,
    priced_fixture,  # noqa: F401
    priced_server_fixture,  # noqa: F401
    usage_config,
    wait_rows,
)
from tests.fakes.proxy import PROXY_KEY, RunningProxy
from tests.fakes.scripted import Step, completion

Start = Callable[[Config], RunningProxy]
COST = 0.25
BUDGET = 0.6  # room for 2.4 requests
BURST = 10


def costly(priced: PricedUpstream, count: int, stall: float) -> None:
    usage = {"prompt_tokens": 10, "completion_tokens": 4, "cost": COST}
    priced.script("vendor/m", *(Step(completion=completion("vendor/m", usage=usage), stall=stall) for _ in range(count)))


def burst(proxy: RunningProxy, size: int = BURST) -> list[int]:
    """`size` requests at once; each is answered after the upstream's stall, so all are in flight together."""
    body = {"model": "vendor/m", "messages": MESSAGES}
    with httpx.Client(timeout=10, limits=httpx.Limits(max_connections=size)) as client:

        def send(_: int) -> int:
            return client.post(f"{proxy.url}/v1/chat/completions", json=body, headers=auth()).status_code

        with ThreadPoolExecutor(size) as pool:
            return sorted(pool.map(send, range(size)))


def spent(proxy: RunningProxy) -> float:
    return get_usage(proxy, ADMIN_KEY).json()["totals"]["cost_usd"]


def start(priced: PricedUpstream, start_proxy: Start, db: Path, **limits: Any) -> RunningProxy:
    return start_proxy(usage_config(priced.base_url, db, keys=[{"name": "alice", "key": PROXY_KEY, **limits}, ADMIN]))


def test_a_burst_after_the_cost_is_known_overshoots_the_budget_by_at_most_one_request(
    priced: PricedUpstream, start_proxy: Start, tmp_path: Path
) -> None:
    costly(priced, 1, stall=0.0)
    costly(priced, BURST, stall=0.5)
    proxy = start(priced, start_proxy, tmp_path / "u.db", budget_usd=BUDGET, budget_period="total")
    assert chat(proxy, "vendor/m").status_code == 200
    wait_rows(proxy, tmp_path / "u.db", 1)  # settled: the key's per-request cost is now known

    statuses = burst(proxy)
    admitted = 1 + statuses.count(200)
    # Each admission reserves COST: spend 0.25 + 0.25 in flight, then 0.75 >= 0.6 refuses the rest.
    assert statuses == [200] * 2 + [429] * (BURST - 2)
    assert admitted <= BUDGET / COST + 1
    wait_rows(proxy, tmp_path / "u.db", 1 + BURST)
    assert spent(proxy) == pytest.approx(admitted * COST)
    assert spent(proxy) < BUDGET + COST  # the documented guarantee: at most one request past the budget
    assert chat(proxy, "vendor/m").status_code == 429


def test_without_a_known_cost_a_key_is_not_throttled_to_one_request_at_a_time(
    priced: PricedUpstream, start_proxy: Start, tmp_path: Path
) -> None:
    costly(priced, 4, stall=0.5)
    proxy = start(priced, start_proxy, tmp_path / "u.db", budget_usd=BUDGET, budget_period="total")
    assert burst(proxy, 4) == [200] * 4  # no estimate yet (0, never a guess): all admitted
    wait_rows(proxy, tmp_path / "u.db", 4)
    assert spent(proxy) == pytest.approx(4 * COST)
    assert chat(proxy, "vendor/m").status_code == 429


def test_a_failed_request_costs_nothing_and_releases_its_reservation(
    priced: PricedUpstream, start_proxy: Start, tmp_path: Path
) -> None:
    costly(priced, 1, stall=0.0)
    priced.script("vendor/m", *(Step(status=400) for _ in range(3)))
    costly(priced, 1, stall=0.0)
    proxy = start(priced, start_proxy, tmp_path / "u.db", budget_usd=0.3, budget_period="total")
    assert chat(proxy, "vendor/m").status_code == 200
    wait_rows(proxy, tmp_path / "u.db", 1)
    assert [chat(proxy, "vendor/m").status_code for _ in range(3)] == [400] * 3  # unknown cost: counts as 0
    wait_rows(proxy, tmp_path / "u.db", 4)
    assert chat(proxy, "vendor/m").status_code == 200  # 0.25 < 0.3: the failures' reservations were released
    wait_rows(proxy, tmp_path / "u.db", 5)
    assert chat(proxy, "vendor/m").status_code == 429


def test_rpm_holds_under_a_burst(priced: PricedUpstream, start_proxy: Start, tmp_path: Path) -> None:
    priced.script("vendor/m", *(Step(stall=0.3) for _ in range(BURST)))
    proxy = start(priced, start_proxy, tmp_path / "u.db", rpm=3)
    assert burst(proxy) == [200] * 3 + [429] * (BURST - 3)
    assert len(priced.requests) == 3
