"""The Syncer (one sync per interval, sooner when asked; a failed one marks the link down once and hands
the tokens back) and the CooldownRelay (cooldowns out at once, theirs in), on a fake store."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from src.sharing import syncer as syncer_module
from src.sharing.store import BudgetReport, Cooling, Grants, RateGrant, RateReport, SharedDown
from src.sharing.syncer import CooldownRelay, Link, Syncer
from src.usage.limits import KeyLimits
from src.usage.shared_limits import SharedLimits

pytestmark = pytest.mark.anyio
NOW = 1_700_000_000.0


class FakeStore:
    """Grants what is asked for; `down` makes every call raise SharedDown."""

    def __init__(self) -> None:
        self.down = False
        self.syncs: list[tuple[str, list[BudgetReport], list[RateReport]]] = []
        self.cooled: list[Cooling] = []
        self.published: asyncio.Queue[Cooling] = asyncio.Queue()
        self.subscriptions = 0

    async def sync(self, instance: str, budgets: list[BudgetReport], rates: list[RateReport]) -> Grants:
        self.syncs.append((instance, budgets, rates))
        if self.down:
            raise SharedDown("connection refused")
        return Grants(rates=[RateGrant(r.want, 100, r.want) for r in rates], instances=3)

    async def cool(self, cooling: Cooling) -> None:
        if self.down:
            raise SharedDown("connection refused")
        self.cooled.append(cooling)

    async def coolings(self) -> AsyncIterator[Cooling]:
        self.subscriptions += 1
        if self.down:
            raise SharedDown("connection refused")
        while True:
            yield await self.published.get()
            if self.down:
                raise SharedDown("cut")

    async def close(self) -> None: ...


def rpm_limits(rpm: int = 60) -> SharedLimits:
    return SharedLimits({"alice": KeyLimits(rpm=rpm)})


async def test_a_failed_sync_marks_the_link_down_once_and_logs_once_each_way(caplog: pytest.LogCaptureFixture) -> None:
    store, limits, link = FakeStore(), rpm_limits(), Link("redis")
    syncer = Syncer(store, limits, 0.1, link)
    caplog.set_level(logging.INFO, "switchyard.sharing")
    await syncer.once()
    assert (link.up, caplog.records) == (True, [])

    store.down = True
    for _ in range(3):
        await syncer.once()
    down_since = link.since
    assert (link.up, link.reason, limits.alone) == (False, "connection refused", True)
    store.down = False
    for _ in range(3):
        await syncer.once()

    assert (link.up, limits.alone) == (True, False)
    assert link.since >= down_since
    assert [(r.levelname, "unreachable" in r.message, "reachable again" in r.message) for r in caplog.records] == [
        ("WARNING", True, False),
        ("INFO", False, True),
    ]
    assert "connection refused" in caplog.records[0].message


async def test_a_failed_sync_hands_the_tokens_back_to_the_process() -> None:
    store, limits = FakeStore(), rpm_limits()
    syncer = Syncer(store, limits, 0.1, Link("redis"))
    for _ in range(3):
        limits.admit("alice", NOW)  # some demand: the grants grow
        await syncer.once()
    held = store.syncs[-1][2][0].want  # granted in full by the fake

    store.down = True
    await syncer.once()
    store.down = False
    await syncer.once()

    handed = [rates[0].unused for _, _, rates in store.syncs[-2:]]
    assert handed == [held, held]  # the failed sync did not lose them: they went back at the next one


async def test_the_syncer_syncs_every_interval_and_at_once_when_a_request_waits() -> None:
    store, limits = FakeStore(), rpm_limits()
    task = asyncio.ensure_future(Syncer(store, limits, 0.2, Link("redis")).run())
    try:
        await asyncio.sleep(0.5)
        assert 1 <= len(store.syncs) <= 4  # about one per 0.2 s (a guard, not a measure)
        before = len(store.syncs)
        await asyncio.wait_for(limits.refilled(5.0), 1.0)  # a waiting request asks for a sync: no 0.2 s wait
        assert len(store.syncs) == before + 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_every_sync_of_one_syncer_carries_the_same_instance_and_two_syncers_differ() -> None:
    store = FakeStore()
    first, second = Syncer(store, rpm_limits(), 0.1, Link("file")), Syncer(store, rpm_limits(), 0.1, Link("file"))
    for syncer in (first, second, first):
        await syncer.once()
    names = [instance for instance, _, _ in store.syncs]
    assert names[0] == names[2] != names[1]


async def test_the_relay_publishes_cooldowns_and_mirrors_the_others() -> None:
    store, mirrored = FakeStore(), list[Cooling]()
    relay = CooldownRelay(store, mirrored.append)
    task = asyncio.ensure_future(relay.run())
    try:
        relay.publish(Cooling("route", "a:m1", 30))
        relay.publish(Cooling("key", "a#0", 5))
        store.published.put_nowait(Cooling("route", "b:m2", 10))
        await asyncio.sleep(0.1)
        assert store.cooled == [Cooling("route", "a:m1", 30), Cooling("key", "a#0", 5)]
        assert mirrored == [Cooling("route", "b:m2", 10)]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_the_relay_goes_on_through_an_outage(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(syncer_module, "RECONNECT", 0.05)
    store, mirrored = FakeStore(), list[Cooling]()
    relay = CooldownRelay(store, mirrored.append)
    task = asyncio.ensure_future(relay.run())
    try:
        await asyncio.sleep(0.05)
        store.down = True
        store.published.put_nowait(Cooling("route", "lost:m", 1))  # arrives, then the link is cut
        relay.publish(Cooling("route", "a:m1", 30))  # cannot be told: dropped, the relay goes on
        await asyncio.sleep(0.2)
        subscriptions = store.subscriptions
        assert subscriptions >= 2  # it tries again

        store.down = False
        await asyncio.sleep(0.2)
        relay.publish(Cooling("route", "a:m2", 30))
        store.published.put_nowait(Cooling("route", "b:m2", 10))
        await asyncio.sleep(0.2)
        assert store.cooled == [Cooling("route", "a:m2", 30)]
        assert mirrored[-1] == Cooling("route", "b:m2", 10)
        assert not task.done()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_full_outbox_drops_the_oldest_cooldown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(syncer_module, "OUTBOX", 2)
    store = FakeStore()
    relay = CooldownRelay(store, lambda _: None)
    for name in ("r:1", "r:2", "r:3"):
        relay.publish(Cooling("route", name, 1))
    task = asyncio.ensure_future(relay.run())
    try:
        await asyncio.sleep(0.1)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert [c.name for c in store.cooled] == ["r:2", "r:3"]
