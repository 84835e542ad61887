"""The store contract for cooldowns (RedisStore and FileStore): a published cooldown reaches another
subscriber, a late subscriber gets what is still cooling with its time left; and SharedDown from every
call when the store cannot be reached."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from src.sharing.file_store import FileStore
from src.sharing.redis_store import RedisStore
from src.sharing.store import SYNC_TIMEOUT as TIMEOUT
from src.sharing.store import BudgetReport, Cooling, RateReport, SharedDown, SharedStore
from tests.fakes.redis import RedisServer, free_port, redis_fixture  # noqa: F401
from tests.sharing.conftest import Backing

pytestmark = pytest.mark.anyio
WAIT = 5.0  # seconds a cooldown may take to arrive before the test gives up: a guard, not a measure


@asynccontextmanager
async def subscribed(store: SharedStore) -> AsyncIterator[asyncio.Queue[Cooling]]:
    """What `store.coolings()` yields, while the block runs."""
    arrived: asyncio.Queue[Cooling] = asyncio.Queue()

    async def listen() -> None:
        async for cooling in store.coolings():
            arrived.put_nowait(cooling)

    task = asyncio.ensure_future(listen())
    try:
        yield arrived
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def next_of(arrived: asyncio.Queue[Cooling]) -> Cooling:
    return await asyncio.wait_for(arrived.get(), WAIT)


async def test_a_published_cooldown_reaches_another_subscriber(backing: Backing) -> None:
    listener, teller = backing.new(), backing.new()
    async with subscribed(listener) as arrived:
        await asyncio.sleep(0.2)  # subscribed, past its first look at what is cooling (nothing)
        await teller.cool(Cooling("route", "openrouter:openai/gpt-4o", 30))
        await teller.cool(Cooling("key", "openrouter#1", 12.5))
        route, key = await next_of(arrived), await next_of(arrived)
        await asyncio.sleep(0.2)
        assert arrived.empty()

    assert (route.kind, route.name, key.kind, key.name) == ("route", "openrouter:openai/gpt-4o", "key", "openrouter#1")
    assert 29 < route.seconds <= 30
    assert 11.5 < key.seconds <= 12.5


async def test_a_late_subscriber_gets_what_is_still_cooling_with_its_time_left(backing: Backing) -> None:
    teller = backing.new()
    await teller.cool(Cooling("route", "a:gone", 0.1))
    await teller.cool(Cooling("route", "a:m1", 30))
    await teller.cool(Cooling("key", "b#0", 20))
    await asyncio.sleep(0.5)  # a:gone is over

    async with subscribed(backing.new()) as arrived:
        first, second = await next_of(arrived), await next_of(arrived)
        await asyncio.sleep(0.3)
        assert arrived.empty()

    found = {(c.kind, c.name): c.seconds for c in (first, second)}
    assert set(found) == {("route", "a:m1"), ("key", "b#0")}
    assert 28.5 < found["route", "a:m1"] < 29.6  # its time left, not the 30 it started with
    assert 18.5 < found["key", "b#0"] < 19.6


def unreachable(kind: str, tmp_path: Path) -> SharedStore:
    if kind == "redis":
        return RedisStore(f"redis://127.0.0.1:{free_port()}/0", "sy-test-down")  # nothing listens there
    return FileStore(tmp_path / "no such folder" / "limits.db")


async def calls(store: SharedStore) -> list[str]:
    """Which of the store's calls raised SharedDown."""
    failed = []
    reports = [BudgetReport("alice", "total", 100, 0, 0, 10)], [RateReport("alice", 10, 0, None, 1)]
    for name, call in (("sync", store.sync("x", *reports)), ("cool", store.cool(Cooling("route", "a:m", 1))),
                       ("coolings", anext(aiter(store.coolings())))):  # fmt: skip
        try:
            await asyncio.wait_for(call, WAIT)
        except SharedDown:
            failed.append(name)
    return failed


@pytest.mark.parametrize("kind", ["redis", "file"])
async def test_an_unreachable_store_raises_shared_down_from_every_call(kind: str, tmp_path: Path) -> None:
    store = unreachable(kind, tmp_path)
    try:
        assert await calls(store) == ["sync", "cool", "coolings"]
    finally:
        await store.close()


async def test_a_redis_that_hangs_is_down_after_the_timeout_not_when_it_wakes(redis: RedisServer) -> None:
    store = RedisStore(redis.url, redis.prefix())
    try:
        await store.sync("a", [], [])  # connected
        with redis.paused():
            started = time.monotonic()
            with pytest.raises(SharedDown):
                await store.sync("a", [], [RateReport("alice", 10, 0, None, 1)])
            waited = time.monotonic() - started
        assert waited < TIMEOUT + 2  # a guard: it gave up on its own, Redis never answered
        await asyncio.sleep(0.1)
        grants = await store.sync("a", [], [RateReport("alice", 10, 0, None, 1)])  # and it recovers
        assert grants.rates[0].tokens == 1
    finally:
        await store.close()


async def test_a_subscriber_whose_redis_goes_away_is_told_so(redis: RedisServer) -> None:
    store = RedisStore(redis.url, redis.prefix())
    try:
        stream = store.coolings()
        first = asyncio.ensure_future(anext(aiter(stream)))
        await asyncio.sleep(0.2)  # subscribed, waiting for a message
        with redis.down(), pytest.raises(SharedDown):
            await asyncio.wait_for(first, WAIT)
    finally:
        await store.close()
