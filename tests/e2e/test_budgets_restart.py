"""Budgets hold from the first request (README "Usage, cost and budgets"): after a restart, a key's spend
and recent costs come from the usage database; a key with no history reserves what a request may cost."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from src.config import Config
from tests.e2e.usage_helpers import ADMIN, ADMIN_KEY, get_usage, usage_config, wait_rows
from tests.fakes.proxy import PROXY_KEY, RunningProxy
from tests.fakes.scripted import ScriptedUpstream, Step, completion

Start = Callable[[Config], RunningProxy]
COST = 0.01  # what each request costs, as the upstream reports it
BUDGET = 1.0
BURST = 200
PRICE = "0.0001"  # per token, prompt and answer: with max_tokens 100, a request may cost about $0.013
BOB_KEY = "sy-test-budget-bob-0001"


class PricedScripted(ScriptedUpstream):
    async def _list(self, request: web.Request) -> web.Response:
        return web.json_response({"data": [{"id": "vendor/m", "pricing": {"prompt": PRICE, "completion": PRICE}}]})


@pytest.fixture(name="upstream_priced")
def upstream_priced_fixture() -> Iterator[PricedScripted]:
    server = PricedScripted().start()
    yield server
    server.stop()


def answers(upstream: PricedScripted, count: int, stall: float) -> None:
    usage = {"prompt_tokens": 50, "completion_tokens": 50, "cost": COST}
    upstream.script("vendor/m", *(Step(completion=completion("vendor/m", usage=usage), stall=stall) for _ in range(count)))


def config(upstream: PricedScripted, db: Path) -> Config:
    keys = [{"name": "alice", "key": PROXY_KEY, "budget_usd": BUDGET, "budget_period": "total"},
            {"name": "bob", "key": BOB_KEY, "budget_usd": BUDGET, "budget_period": "total"}, ADMIN]  # fmt: skip
    return usage_config(upstream.base_url, db, keys=keys)


def burst(proxy: RunningProxy, key: str) -> list[int]:
    body = {"model": "vendor/m", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}
    with httpx.Client(timeout=30, limits=httpx.Limits(max_connections=BURST)) as client:

        def send(_: int) -> int:
            headers = {"Authorization": f"Bearer {key}"}
            return client.post(f"{proxy.url}/v1/chat/completions", json=body, headers=headers).status_code

        with ThreadPoolExecutor(BURST) as pool:
            return list(pool.map(send, range(BURST)))


def spend(proxy: RunningProxy, key_name: str) -> float:
    rows = get_usage(proxy, ADMIN_KEY, group_by="key").json()["rows"]
    return next((row["cost_usd"] or 0.0 for row in rows if row["group"] == key_name), 0.0)


def test_a_key_at_52_percent_restarted_ends_within_110_percent_of_its_budget(
    upstream_priced: PricedScripted, start_proxy: Start, tmp_path: Path
) -> None:
    db = tmp_path / "u.db"
    answers(upstream_priced, 52, stall=0.0)
    first = start_proxy(config(upstream_priced, db))
    with httpx.Client(timeout=10) as client:
        for _ in range(52):
            body = {"model": "vendor/m", "messages": [{"role": "user", "content": "hi"}]}
            assert client.post(f"{first.url}/v1/chat/completions", json=body,
                               headers={"Authorization": f"Bearer {PROXY_KEY}"}).status_code == 200  # fmt: skip
    wait_rows(first, db, 52)
    first.stop()

    answers(upstream_priced, BURST, stall=0.5)  # all in flight together
    second = start_proxy(config(upstream_priced, db))
    statuses = burst(second, PROXY_KEY)
    wait_rows(second, db, 52 + BURST)
    assert spend(second, "alice") <= 1.10 * BUDGET
    assert statuses.count(429) > 0 and statuses.count(200) < BURST  # without the loaded spend: all 200, $2.52


def test_a_new_key_ends_within_110_percent_of_its_budget(
    upstream_priced: PricedScripted, start_proxy: Start, tmp_path: Path
) -> None:
    db = tmp_path / "u.db"
    answers(upstream_priced, BURST, stall=0.5)
    proxy = start_proxy(config(upstream_priced, db))
    statuses = burst(proxy, BOB_KEY)  # no cost known yet: each reserves its own estimate
    wait_rows(proxy, db, BURST)
    assert spend(proxy, "bob") <= 1.10 * BUDGET
    assert statuses.count(429) > 0  # without the estimate: all 200 admitted, $2.00
