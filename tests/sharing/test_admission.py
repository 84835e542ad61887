"""Accounting.admit on shared limits, with the Syncer running on a fake store: a request that finds its
process's lease used up waits for one refill (REFILL_WAIT at most) and is then admitted, refused on the
shared figures, or, when the store cannot be reached, admitted on the process's own share: the store
being down never refuses a request by itself."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace

import pytest

from src.config import Config
from src.sharing.store import SYNC_TIMEOUT as TIMEOUT
from src.sharing.store import BudgetReport, Cooling, Grants, RateGrant, RateReport, SharedDown
from src.sharing.syncer import Link, Syncer
from src.usage.accounting import REFILL_WAIT, Accounting
from src.usage.shared_limits import SharedLimits
from src.wire.errors import LimitReached

pytestmark = pytest.mark.anyio
RPM = 60


class Store:
    """Grants what is asked for within the rpm; with `fails_after` set, every sync fails after that long."""

    def __init__(self) -> None:
        self.used = 0  # this process's tokens in the minute
        self.others = 0  # the other processes'
        self.fails_after: float | None = None

    async def sync(self, instance: str, budgets: list[BudgetReport], rates: list[RateReport]) -> Grants:
        if self.fails_after is not None:
            await asyncio.sleep(self.fails_after)
            raise SharedDown("Timeout reading from 127.0.0.1:6379")
        grants = []
        for report in rates:
            self.used -= report.unused
            tokens = max(0, min(report.want, report.rpm - self.used - self.others))
            self.used += tokens
            grants.append(RateGrant(tokens, 1000, self.used + self.others))
        return Grants(rates=grants, instances=3)

    async def cool(self, cooling: Cooling) -> None: ...

    async def coolings(self) -> AsyncIterator[Cooling]:
        await asyncio.Event().wait()
        yield Cooling("route", "never", 0)

    async def close(self) -> None: ...


async def admitted(accounting: Accounting, count: int) -> list[str]:
    """`count` requests of alice one after another: "ok", or the code of the 429."""
    outcomes = []
    for _ in range(count):
        try:
            await accounting.admit("alice", None, 0, {})  # type: ignore[arg-type]  # no budget: no route looked at
            outcomes.append("ok")
        except LimitReached as exc:
            outcomes.append(str(exc.code))
    return outcomes


async def running(store: Store) -> tuple[Accounting, asyncio.Future[None]]:
    config = Config.model_validate({
        "auth": {"api_keys": [{"name": "alice", "key": "sy-test-key-0004", "rpm": RPM}]},
        "backends": {"openrouter": {"type": "openai", "base_url": "http://127.0.0.1:9/v1"}},
        "usage": {"database": None},
    })  # fmt: skip
    accounting = Accounting(config, SimpleNamespace(knows=lambda *_: False), shared=True)  # type: ignore[arg-type]
    assert isinstance(accounting.limits, SharedLimits)
    syncer = Syncer(store, accounting.limits, 1.0, Link("redis"))  # idle between syncs: a waiting request wakes it
    await syncer.once()  # as at start: one token, the demand being nothing yet
    return accounting, asyncio.ensure_future(syncer.run())


async def test_a_request_past_its_lease_waits_for_the_refill_and_is_admitted() -> None:
    store = Store()
    accounting, task = await running(store)
    try:
        assert await admitted(accounting, 8) == ["ok"] * 8  # each wait asked for a sync at once
        store.others = RPM - 8  # the other processes used the rest of the minute
        await asyncio.sleep(1.2)  # a sync hands back this process's tokens and gets none
        assert await admitted(accounting, 1) == ["rate_limit_exceeded"]
    finally:
        task.cancel()


async def test_a_store_that_refuses_at_once_admits_on_the_process_s_share() -> None:
    store = Store()
    accounting, task = await running(store)
    try:
        store.fails_after = 0.0  # connection refused
        assert await admitted(accounting, 21) == ["ok"] * 20 + ["rate_limit_exceeded"]  # 60 // 3 instances
    finally:
        task.cancel()


async def test_a_store_that_hangs_until_its_timeout_admits_on_the_process_s_share() -> None:
    store = Store()
    accounting, task = await running(store)
    try:
        # RedisStore on a Redis that hangs: each sync fails once its read times out (measured: TIMEOUT + 1-2 ms).
        store.fails_after = TIMEOUT + 0.005
        assert store.fails_after < REFILL_WAIT  # the wait outlasts the sync: its failure is what ends it
        assert await admitted(accounting, 3) == ["ok"] * 3  # the token, then two more on its share of 20
    finally:
        task.cancel()
