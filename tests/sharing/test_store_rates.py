"""The store contract for rpm tokens, the same cases on RedisStore and FileStore: up to rpm granted in
60 s of the store's clock, unused tokens handed back, buckets older than 60 s forgotten."""

from __future__ import annotations

import time
from typing import NamedTuple

import pytest
from redis import asyncio as aioredis

from src.sharing.store import RateReport
from tests.sharing.conftest import Backing

pytestmark = pytest.mark.anyio


class Step(NamedTuple):
    instance: str
    unused: int  # handed back, from its previous grant
    want: int
    tokens: int  # granted
    used: int  # the key's admissions in the last 60 s, this grant included


CASES = {
    "up to rpm across instances": [
        Step("a", 0, 4, 4, 4), Step("b", 0, 4, 4, 8), Step("c", 0, 4, 2, 10), Step("a", 0, 4, 0, 10),
    ],
    "unused tokens handed back are granted again": [
        Step("a", 0, 10, 10, 10), Step("b", 0, 5, 0, 10),
        Step("a", 6, 3, 3, 7),  # 6 back, 3 taken: 4 + 3
        Step("b", 0, 5, 3, 10),
        Step("b", 3, 1, 1, 8),
    ],
    "want caps the grant": [Step("a", 0, 1, 1, 1), Step("a", 1, 1, 1, 1), Step("a", 0, 2, 2, 3)],
}  # fmt: skip


@pytest.mark.parametrize("steps", CASES.values(), ids=CASES.keys())
async def test_rate_tokens(backing: Backing, steps: list[Step]) -> None:
    stores = {name: backing.new() for name in "abc"}
    granted_at: dict[str, int | None] = dict.fromkeys(stores)
    for number, step in enumerate(steps):
        sent = RateReport("alice", 10, step.unused, granted_at[step.instance], step.want)
        grants = await stores[step.instance].sync(step.instance, [], [sent])
        (grant,) = grants.rates
        assert (grant.tokens, grant.used) == (step.tokens, step.used), f"step {number}: {step}"
        granted_at[step.instance] = grant.second


async def test_the_grant_carries_the_second_of_the_store_s_clock(backing: Backing) -> None:
    before = int(time.time())
    (grant,) = (await backing.new().sync("a", [], [RateReport("alice", 10, 0, None, 1)])).rates
    if backing.kind == "redis":  # Redis's own clock (here on the same machine as the test's)
        client = aioredis.Redis.from_url(backing.url)
        seconds, _ = await client.time()
        await client.aclose()
        assert seconds - 1 <= grant.second <= seconds
    assert before <= grant.second <= time.time()


async def test_buckets_older_than_60_seconds_are_forgotten(backing: Backing) -> None:
    store = backing.new()
    await store.sync("a", [], [RateReport("alice", 10, 0, None, 10), RateReport("bob", 10, 0, None, 10)])
    await backing.age("alice", 61)
    await backing.age("bob", 50)  # well inside the minute, even if the clock ticks meanwhile

    grants = await store.sync("a", [], [RateReport("alice", 10, 0, None, 4), RateReport("bob", 10, 0, None, 4)])

    assert [(g.tokens, g.used) for g in grants.rates] == [(4, 4), (0, 10)]


async def test_tokens_handed_back_to_a_forgotten_bucket_change_nothing(backing: Backing) -> None:
    store = backing.new()
    (grant,) = (await store.sync("a", [], [RateReport("alice", 10, 0, None, 6)])).rates
    await backing.age("alice", 61)
    old = grant.second - 61
    await store.sync("b", [], [RateReport("alice", 10, 0, None, 3)])

    grants = await store.sync("a", [], [RateReport("alice", 10, 6, old, 1)])  # six back, to a minute ago

    assert [(g.tokens, g.used) for g in grants.rates] == [(1, 4)]  # b's 3 and this 1: none gone negative


async def test_tokens_handed_back_never_take_another_instances_grant_of_the_same_second(backing: Backing) -> None:
    store = backing.new()
    (a_grant,) = (await store.sync("a", [], [RateReport("alice", 10, 0, None, 3)])).rates
    await store.sync("b", [], [RateReport("alice", 10, 0, None, 3)])  # most often in the same second
    # a hands back more than it was granted (what a store restarted empty had granted before):
    grants = await store.sync("a", [], [RateReport("alice", 10, 5, a_grant.second, 1)])
    assert [(g.tokens, g.used) for g in grants.rates] == [(1, 4)]  # b's 3 still count; a's 3 back, 1 new


async def test_keys_with_separators_in_their_names_do_not_share_tokens(backing: Backing) -> None:
    store = backing.new()
    reports = [RateReport(name, 3, 0, None, 3) for name in ("a:b", "a", "a b", "a%3Ab")]
    grants = await store.sync("a", [], reports)
    assert [(g.tokens, g.used) for g in grants.rates] == [(3, 3)] * 4


async def test_the_instances_syncing_are_counted(backing: Backing) -> None:
    counts = [(await backing.new().sync(name, [], [])).instances for name in ("a", "b", "c", "a")]
    assert counts == [1, 2, 3, 3]


async def test_tokens_handed_back_to_a_bucket_the_store_does_not_have_are_not_counted(backing: Backing) -> None:
    store = backing.new()
    (probe,) = (await store.sync("a", [], [RateReport("bob", 10, 0, None, 1)])).rates
    # Tokens granted 10 s ago by a store that has since lost them (a Redis restarted empty):
    back = RateReport("alice", 10, 5, probe.second - 10, 10)

    first = (await store.sync("a", [], [back])).rates[0]
    second = (await store.sync("b", [], [RateReport("alice", 10, 0, None, 10)])).rates[0]

    assert [(first.tokens, first.used), (second.tokens, second.used)] == [(10, 10), (0, 10)]  # never 15 in a minute
