"""The store contract for budget leases, the same cases and the same grants on RedisStore and FileStore.

Money is in integer micro-dollars. Each step is one instance's sync: what it reports, and the grant
(lease, the key's shared spend, what the other instances hold) it must get back.
"""

from __future__ import annotations

import asyncio
from typing import NamedTuple

import pytest

from src.sharing import file_store, redis_store
from src.sharing.store import BudgetGrant, BudgetReport, SharedStore
from tests.sharing.conftest import Backing

pytestmark = pytest.mark.anyio
BUDGET = 1000


class Step(NamedTuple):
    instance: str
    settled: int
    in_flight: int
    want: int
    known: int
    grant: tuple[int, int, int]  # lease, spent, others


def report(step: Step, key: str = "alice", period: str = "total", budget: int = BUDGET) -> BudgetReport:
    return BudgetReport(key, period, budget, step.settled, step.in_flight, step.want, step.known)


CASES = {
    "granted from what is left": [
        Step("a", 0, 0, 400, 0, (400, 0, 0)),
        Step("b", 0, 0, 400, 0, (400, 0, 400)),
        Step("c", 0, 0, 400, 0, (200, 0, 800)),  # only 200 left
        Step("c", 0, 0, 400, 0, (200, 0, 800)),  # its own hold is replaced, not added to
        Step("a", 100, 0, 400, 0, (300, 100, 600)),  # 1000 - 100 spent - 600 held by b and c
        Step("b", 0, 0, 0, 0, (0, 100, 500)),  # b wants nothing: its hold goes
        Step("a", 0, 0, 900, 0, (700, 100, 200)),
    ],
    "the in-flight reservations are kept in the lease": [
        Step("a", 0, 0, 600, 0, (600, 0, 0)),
        Step("b", 0, 0, 600, 0, (400, 0, 600)),
        Step("a", 0, 500, 600, 0, (600, 0, 400)),  # 500 in flight + the 100 left
        Step("a", 500, 300, 600, 0, (300, 500, 400)),  # over: nothing more, but its 300 in flight stay held
        Step("b", 200, 0, 600, 0, (0, 700, 300)),
    ],
    "known raises the shared spend and never lowers it": [
        Step("a", 0, 0, 500, 700, (300, 700, 0)),  # the database says 700 were spent
        Step("b", 0, 0, 500, 200, (0, 700, 300)),  # a database behind the other: the figure stays 700
        Step("b", 50, 0, 500, 0, (0, 750, 300)),
        Step("a", 0, 0, 500, 760, (240, 760, 0)),  # b holds nothing now
        Step("a", 100, 0, 500, 800, (140, 860, 0)),  # 760 + 100 is past the database's 800
    ],
    "settled costs add up across instances": [
        Step("a", 10, 0, 1, 0, (1, 10, 0)),
        Step("b", 20, 0, 1, 0, (1, 30, 1)),
        Step("c", 30, 0, 1, 0, (1, 60, 2)),
        Step("a", 950, 0, 100, 0, (0, 1010, 2)),  # past the budget: no lease at all
    ],
}


@pytest.mark.parametrize("steps", CASES.values(), ids=CASES.keys())
async def test_budget_leases(backing: Backing, steps: list[Step]) -> None:
    stores: dict[str, SharedStore] = {}
    for number, step in enumerate(steps):
        store = stores.setdefault(step.instance, backing.new())
        grants = await store.sync(step.instance, [report(step)], [])
        assert grants.budgets == [BudgetGrant(*step.grant)], f"step {number}: {step}"


async def test_each_key_and_period_has_figures_of_its_own(backing: Backing) -> None:
    store = backing.new()
    first = Step("a", 600, 0, 100, 0, (0, 0, 0))
    reports = [
        report(first, key="a:b", period="1"),  # names a store must not run together...
        report(first._replace(settled=0), key="a", period="b:1"),  # ...into one
        report(first._replace(settled=0), key="a:b", period="2"),  # the next period starts from nothing
        report(first._replace(settled=0), key="bob"),
    ]
    grants = await store.sync("a", reports, [])
    assert grants.budgets == [BudgetGrant(100, 600, 0), BudgetGrant(100, 0, 0), BudgetGrant(100, 0, 0),
                              BudgetGrant(100, 0, 0)]  # fmt: skip


async def test_a_dead_instance_s_hold_is_released_after_live_for(
    backing: Backing, monkeypatch: pytest.MonkeyPatch
) -> None:
    for module in (redis_store, file_store):
        monkeypatch.setattr(module, "LIVE_FOR", 0.5)
    a, b = backing.new(), backing.new()
    assert (await a.sync("a", [report(Step("a", 0, 0, 800, 0, (0, 0, 0)))], [])).budgets[0].lease == 800
    grants = await b.sync("b", [report(Step("b", 0, 0, 800, 0, (0, 0, 0)))], [])
    assert (grants.budgets, grants.instances) == ([BudgetGrant(200, 0, 800)], 2)  # a is alive: its 800 is held

    await asyncio.sleep(0.8)  # a has not synced since: dead
    grants = await b.sync("b", [report(Step("b", 0, 0, 800, 0, (0, 0, 0)))], [])

    assert (grants.budgets, grants.instances) == ([BudgetGrant(800, 0, 0)], 1)
    grants = await a.sync("a", [report(Step("a", 0, 0, 800, 0, (0, 0, 0)))], [])
    assert (grants.budgets, grants.instances) == ([BudgetGrant(200, 0, 800)], 2)  # back: it gets what is left


async def test_an_instance_that_keeps_syncing_keeps_its_hold(backing: Backing, monkeypatch: pytest.MonkeyPatch) -> None:
    for module in (redis_store, file_store):
        monkeypatch.setattr(module, "LIVE_FOR", 0.5)
    a, b = backing.new(), backing.new()
    await a.sync("a", [report(Step("a", 0, 0, 800, 0, (0, 0, 0)))], [])
    for _ in range(4):
        await asyncio.sleep(0.25)
        await a.sync("a", [report(Step("a", 0, 0, 800, 0, (0, 0, 0)))], [])
    grants = await b.sync("b", [report(Step("b", 0, 0, 800, 0, (0, 0, 0)))], [])
    assert (grants.budgets, grants.instances) == ([BudgetGrant(200, 0, 800)], 2)
