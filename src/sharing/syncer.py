"""The background tasks that keep a process in step with the others: the sync of leases (once per
interval, or sooner when a request waits for a refill) and the relay of cooldowns (at once)."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from src.sharing.store import BudgetReport, Cooling, Grants, RateReport, SharedDown, SharedStore

log = logging.getLogger("switchyard.sharing")
OUTBOX = 10_000  # cooldowns waiting to be published while the store is slow; older ones give way
RECONNECT = 0.5  # seconds between attempts to subscribe again


class Synced(Protocol):
    def reports(self) -> tuple[list[BudgetReport], list[RateReport]]: ...
    def apply(self, budgets: list[BudgetReport], rates: list[RateReport], grants: Grants) -> None: ...
    def failed(self, rates: list[RateReport]) -> None: ...
    async def needed(self, timeout: float) -> None: ...


@dataclass
class Link:
    """Whether the shared store can be reached, for /health and the switchyard_shared_store_down gauge."""

    kind: str  # "redis", or "file" for the workers of one machine
    up: bool = True
    since: float = field(default_factory=time.time)
    reason: str = ""

    def went(self, up: bool, reason: str = "") -> None:
        if up == self.up:
            return  # logged once each way
        self.up, self.since, self.reason = up, time.time(), reason
        if up:
            log.info("shared store (%s) reachable again: limits and cooldowns are shared again", self.kind)
        else:
            log.warning("shared store (%s) unreachable (%s): this process keeps to its last known share of each "
                        "limit until it is back", self.kind, reason)  # fmt: skip


def instance_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Syncer:
    def __init__(self, store: SharedStore, limits: Synced, interval: float, link: Link) -> None:
        self._store, self._limits, self._interval, self.link = store, limits, interval, link
        self._instance = instance_id()

    async def once(self) -> None:
        budgets, rates = self._limits.reports()
        try:
            grants = await self._store.sync(self._instance, budgets, rates)
        except SharedDown as exc:
            self._limits.failed(rates)
            self.link.went(False, str(exc))
            return
        self._limits.apply(budgets, rates, grants)
        self.link.went(True)

    async def run(self) -> None:
        while True:
            await self._limits.needed(self._interval)
            await self.once()


class CooldownRelay:
    """Tells the other processes of each cooldown here, and applies theirs (`mirror`)."""

    def __init__(self, store: SharedStore, mirror: Callable[[Cooling], None]) -> None:
        self._store, self._mirror = store, mirror
        self._outbox: asyncio.Queue[Cooling] = asyncio.Queue(OUTBOX)

    def publish(self, cooling: Cooling) -> None:
        if self._outbox.full():
            self._outbox.get_nowait()
        self._outbox.put_nowait(cooling)

    async def run(self) -> None:
        await asyncio.gather(self._send(), self._receive())

    async def _send(self) -> None:
        while True:
            cooling = await self._outbox.get()
            try:
                await self._store.cool(cooling)
            except SharedDown:
                continue  # the store is down (the syncer says so): this process still cools it itself

    async def _receive(self) -> None:
        while True:
            try:
                async for cooling in self._store.coolings():
                    self._mirror(cooling)
            except SharedDown:
                pass
            await asyncio.sleep(RECONNECT)
