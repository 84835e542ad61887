"""SharedLimits and its Syncer on a real Redis, three processes' worth in one event loop: the figures
the processes share, and what a Redis that restarts empty (no persistence) does to them."""

from __future__ import annotations

import pytest

from src.sharing.redis_store import RedisStore
from src.sharing.syncer import Link, Syncer
from src.usage.limits import KeyLimits, LimitExceeded, Reservation
from src.usage.shared_limits import SharedLimits
from tests.fakes.redis import RedisServer, redis_fixture  # noqa: F401

pytestmark = pytest.mark.anyio
COST = 0.1


class Process:
    """One proxy process's limits and syncer, on its own connection to the store."""

    def __init__(self, url: str, prefix: str, **key: object) -> None:
        self.store = RedisStore(url, prefix)
        self.limits = SharedLimits({"alice": KeyLimits(**key)})  # type: ignore[arg-type]
        if self.limits.has_budget("alice"):
            self.limits.load("alice", None, 0.0, [COST])
        self.syncer = Syncer(self.store, self.limits, 0.1, Link("redis"))

    async def request(self) -> bool:
        """One request, as Accounting.admit makes it (a wait for one sync when the lease is used up)."""
        try:
            reservation = self.limits.admit("alice", 0.0)
            if reservation is None:
                await self.syncer.once()
                reservation = self.limits.admit("alice", 0.0, final=True)
        except LimitExceeded:
            return False
        assert isinstance(reservation, Reservation)
        self.limits.settle(reservation, COST)
        return True


async def test_three_processes_share_one_budget(redis: RedisServer) -> None:
    prefix = redis.prefix()
    processes = [Process(redis.url, prefix, budget_usd=1.0) for _ in range(3)]
    try:
        for process in processes:
            await process.syncer.once()
        admitted = 0
        for _ in range(10):
            for process in processes:
                admitted += await process.request()
        for process in processes:
            await process.syncer.once()
        assert 10 <= admitted <= 10 + 3  # $1 at $0.10, and at most one estimate over per process
        assert processes[0].limits.reports()[0][0].settled == 0  # every cost carried to the store
        for process in processes:
            assert not await process.request()
    finally:
        for process in processes:
            await process.store.close()


async def test_a_budget_spent_before_redis_restarts_empty_stays_spent(redis: RedisServer) -> None:
    process = Process(redis.url, redis.prefix(), budget_usd=1.0)
    try:
        await process.syncer.once()
        while await process.request():
            pass
        await process.syncer.once()
        with redis.down():
            await process.syncer.once()
        assert not process.syncer.link.up
        for _ in range(3):  # the first may meet the connection Redis closed
            await process.syncer.once()
        assert process.syncer.link.up

        assert not await process.request()  # $1 spent: the process knew it, and so does the usage database
    finally:
        await process.store.close()


async def test_rpm_tokens_are_shared_and_refused_past_the_minute_s_rpm(redis: RedisServer) -> None:
    prefix = redis.prefix()
    processes = [Process(redis.url, prefix, rpm=12) for _ in range(3)]
    try:
        for process in processes:
            await process.syncer.once()
        results = [await process.request() for _ in range(10) for process in processes]
        # Each of the minute's 12 is used, by whichever process holds it; never a 13th.
        assert sum(results) == 12
        assert all(results[:10])  # the first ten, whichever process they reach
    finally:
        for process in processes:
            await process.store.close()
