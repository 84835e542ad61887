"""The shared store's interface: one call per sync interval carries every delta and brings back
every grant; cooldowns are published at once and arrive as a stream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

SYNC_TIMEOUT = 0.5  # seconds a sync may take before the store counts as down: requests never wait longer
LIVE_FOR = 3.0  # seconds an instance that stopped syncing still counts (its leases still held)


class SharedDown(Exception):
    """The shared store cannot be reached (or answered nonsense): each process goes on alone."""


@dataclass(frozen=True, slots=True)
class BudgetReport:
    """One key's budget, as this process reports it; money in integer micro-dollars."""

    key: str
    period: str  # "total", or the UTC day or month its spend counts in
    budget: int
    settled: int  # spent since the last report (the real costs of requests settled meanwhile)
    in_flight: int  # reserved by this process's requests under way
    want: int  # how much more it would like to hold until the next sync
    known: int = 0  # the spend the usage database gives (at start): the shared figure is never below it


@dataclass(frozen=True, slots=True)
class RateReport:
    key: str
    rpm: int
    unused: int  # tokens granted earlier and not used: handed back
    granted_at: int | None  # the shared clock's second they were granted in
    want: int


@dataclass(frozen=True, slots=True)
class BudgetGrant:
    lease: int  # what this process may hold (its in-flight reservations included) until the next sync
    spent: int  # the key's spend, every process's settled costs
    others: int  # what the other processes hold


@dataclass(frozen=True, slots=True)
class RateGrant:
    tokens: int  # admissions this process may make
    second: int  # when they were granted, on the shared clock
    used: int  # admissions (granted tokens) in the last 60 s, across processes


@dataclass
class Grants:
    budgets: list[BudgetGrant] = field(default_factory=list)
    rates: list[RateGrant] = field(default_factory=list)
    instances: int = 1  # processes syncing now, this one included


@dataclass(frozen=True, slots=True)
class Cooling:
    kind: str  # "route" or "key"
    name: str  # the route, or "backend#position" for a key
    seconds: float  # left


class SharedStore(Protocol):
    async def sync(self, instance: str, budgets: list[BudgetReport], rates: list[RateReport]) -> Grants:
        """Every report in one round trip, atomically; raises SharedDown."""

    async def cool(self, cooling: Cooling) -> None:
        """Tells every process; raises SharedDown."""

    def coolings(self) -> AsyncIterator[Cooling]:
        """What is cooling now, then each new cooldown as it is published; raises SharedDown when cut."""

    async def close(self) -> None: ...
