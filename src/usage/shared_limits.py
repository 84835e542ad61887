"""Per-key budgets and rate limits shared by several processes, with no round trip on a request's path.

Each process holds a lease per key: an amount of budget (integer micro-dollars) and a number of
admissions it may use until its next sync. A request is admitted against the lease in memory;
a background task (src.sharing.syncer) reports what was used and refills every lease in one call
per interval. A request that finds its lease used up while the key still has room asks for a
sync and waits for its refill (src.usage.accounting.REFILL_WAIT at most; the waiting requests'
demand is part of what the sync asks for), and is refused when the shared figures say the limit
is reached, or no refill came in time.

The overshoot bounds (when each request costs at most its estimate): a key's spend ends at most
one estimate past its budget per process (each process admits while its lease is not used up);
a key's admissions in any 60 s are at most its rpm plus the tokens each process held unused when
those 60 s began (a token counts when granted): at most the `want` of its last sync, twice what
it admitted in the interval before plus what its waiting requests asked for, and at least 1.

A store restarted empty loses its figures: each process sends a floor of each key's spend at every
sync (the database's spend at its start, plus what it settled since), and the store starts again
from the largest; tokens a process hands back leave only its own buckets.

When the shared store cannot be reached, each process keeps to its last known share: rpm / the
number of processes last seen; and for a budget, with `budget_when_down: closed` (the default),
what is left of its lease; with `open`, the last known room of the whole budget, as if alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from src.sharing.store import BudgetReport, Grants, RateReport
from src.usage.limits import RECENT, WINDOW, KeyLimits, Reservation, budget_refusal, rpm_refusal
from src.usage.since import period_start

MICRO = 1_000_000


def micros(usd: float) -> int:
    return math.ceil(usd * MICRO)


@dataclass(slots=True)
class _Budget:
    period: float | None = None
    lease: int = 0
    used: int = 0  # reserved by requests in flight, plus what settled since the last sync
    in_flight: int = 0
    settled: int = 0  # since the last report
    demand: int = 0  # reserved since the last report
    waiting: int = 0  # what requests waiting for a refill want reserved, since the last report
    known: int = 0  # a floor of the key's spend: the database's at start, plus what settled here since
    spent: int = 0  # the shared spend, as of the last sync
    others: int = 0
    recent: deque[float] = field(default_factory=lambda: deque(maxlen=RECENT))


@dataclass(slots=True)
class _Rate:
    tokens: int = 0
    granted_at: int | None = None
    demand: int = 0
    waiting: int = 0  # requests waiting for a refill, since the last report
    used: int = 0  # shared admissions in the last 60 s, as of the last sync
    admitted: deque[float] = field(default_factory=deque)  # this process's, for its share while alone


class SharedLimits:
    def __init__(self, limits: Mapping[str, KeyLimits], when_down: str = "closed") -> None:
        self._limits = dict(limits)
        self._open_when_down = when_down == "open"
        self._budgets = {name: _Budget() for name, lim in self._limits.items() if lim.budget_usd is not None}
        self._rates = {name: _Rate() for name, lim in self._limits.items() if lim.rpm is not None}
        self.alone = False  # the shared store is out of reach
        self.instances = 1
        self._refilled = asyncio.Event()
        self._needed = asyncio.Event()

    def budgeted(self) -> dict[str, KeyLimits]:
        return {name: self._limits[name] for name in self._budgets}

    def has_budget(self, key_name: str) -> bool:
        return key_name in self._budgets

    def load(self, key_name: str, period: float | None, spent: float, recent: Iterable[float]) -> None:
        budget = self._budgets[key_name]
        budget.period, budget.known = period, micros(spent)
        budget.recent.extend(recent)

    def admit(self, key_name: str, now: float, estimate: float = 0.0, final: bool = False) -> Reservation | None:
        """A reservation; None when the lease is used up but the key has room (wait for `refilled`);
        LimitExceeded when the limit is reached (or `final`, after a wait)."""
        limits = self._limits.get(key_name)
        if limits is None:
            return Reservation(key_name, 0.0, None)
        rate, budget = self._rates.get(key_name), self._budgets.get(key_name)
        if rate is not None and not self._rate_allows(key_name, limits, rate, now, final):
            rate.waiting += 1  # so that the next sync asks for enough
            return None
        reserved = 0
        if budget is not None:
            self._roll(budget, limits, now)
            reserved = micros(max(max(budget.recent, default=0.0), estimate))
            if not self._budget_allows(key_name, limits, budget, now, final):
                budget.waiting += reserved
                return None
            budget.used += reserved
            budget.in_flight += reserved
            budget.demand += reserved
        if rate is not None:
            if not self.alone:
                rate.tokens -= 1
            rate.demand += 1
            rate.admitted.append(now)
        return Reservation(key_name, reserved / MICRO, budget.period if budget else None)

    def settle(self, reservation: Reservation, actual_cost: float | None) -> None:
        if reservation.settled:
            return
        reservation.settled = True
        budget = self._budgets.get(reservation.key_name)
        if budget is None:
            return
        if reservation.period == budget.period:  # not a request of a period now over
            reserved, cost = micros(reservation.estimate), micros(actual_cost or 0.0)
            budget.in_flight -= reserved
            budget.used += cost - reserved
            budget.settled += cost
        if actual_cost is not None:
            budget.recent.append(actual_cost)

    async def refilled(self, timeout: float) -> None:
        """Waits for the next sync (asked for now) or `timeout`."""
        self._needed.set()
        event = self._refilled
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)

    async def needed(self, timeout: float) -> None:
        """The syncer's pause: until the interval is over, or a request waits for a refill."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._needed.wait(), timeout)
        self._needed.clear()

    def reports(self) -> tuple[list[BudgetReport], list[RateReport]]:
        budgets = [
            BudgetReport(name, _period_id(b.period), micros(self._limits[name].budget_usd or 0), b.settled, b.in_flight,
                         max(2 * b.demand + b.waiting, micros(max(b.recent, default=0.0)), 1), b.known)
            for name, b in self._budgets.items()
        ]  # fmt: skip
        rates = []
        for name, r in self._rates.items():
            rpm = self._limits[name].rpm or 0
            rates.append(RateReport(name, rpm, max(r.tokens, 0), r.granted_at, min(max(2 * r.demand + r.waiting, 1), rpm)))
            r.tokens = min(r.tokens, 0)  # handed back; refilled by the grant
        for budget in self._budgets.values():
            budget.waiting = 0  # those still short ask again
        for rate in self._rates.values():
            rate.waiting = 0
        return budgets, rates

    def apply(self, budgets: list[BudgetReport], rates: list[RateReport], grants: Grants) -> None:
        for report, grant in zip(budgets, grants.budgets, strict=True):
            budget = self._budgets[report.key]
            budget.lease, budget.spent, budget.others = grant.lease, grant.spent, grant.others
            budget.settled -= report.settled
            budget.used -= report.settled  # now in the shared spend
            # Sent at every sync: a store restarted empty starts again from this floor, not from nothing.
            budget.known += report.settled
            budget.demand = 0
        for rate_report, rate_grant in zip(rates, grants.rates, strict=True):
            rate = self._rates[rate_report.key]
            rate.tokens += rate_grant.tokens
            rate.granted_at, rate.used, rate.demand = rate_grant.second, rate_grant.used, 0
        self.instances, self.alone = max(grants.instances, 1), False
        self._wake()

    def failed(self, rates: list[RateReport]) -> None:
        """The sync did not happen: the tokens handed back are this process's again."""
        for report in rates:
            self._rates[report.key].tokens += report.unused
        self.alone = True
        self._wake()

    def _wake(self) -> None:
        self._refilled.set()
        self._refilled = asyncio.Event()

    def _rate_allows(self, key_name: str, limits: KeyLimits, rate: _Rate, now: float, final: bool) -> bool:
        rpm = limits.rpm or 0
        while rate.admitted and rate.admitted[0] <= now - WINDOW:
            rate.admitted.popleft()  # this process's last minute: its share while alone
        if self.alone:
            share = max(1, rpm // self.instances)
            if len(rate.admitted) >= share:
                raise rpm_refusal(key_name, share, len(rate.admitted), rate.admitted[0] + WINDOW)
            return True
        if rate.tokens > 0:
            return True
        if final or rate.used >= rpm:  # final: no share came in time, though the figures left room
            raise rpm_refusal(key_name, rpm, rate.used, now + WINDOW)
        return False

    def _budget_allows(self, key_name: str, limits: KeyLimits, budget: _Budget, now: float, final: bool) -> bool:
        if budget.used < budget.lease:
            return True
        spent = max(budget.spent, budget.known)  # the floor counts when no sync has happened yet
        room = micros(limits.budget_usd or 0) - spent - budget.others - budget.used
        if self.alone and self._open_when_down and room > 0:
            return True
        if self.alone or final or room <= 0:
            used = (spent + budget.others + budget.used) / MICRO
            raise budget_refusal(key_name, limits, used, now)
        return False

    @staticmethod
    def _roll(budget: _Budget, limits: KeyLimits, now: float) -> None:
        start = period_start(limits.budget_period, now)
        if start != budget.period:  # a new period: its own figures, from nothing
            budget.period, budget.lease, budget.used, budget.in_flight, budget.settled = start, 0, 0, 0, 0
            budget.spent = budget.others = budget.known = 0


def _period_id(period: float | None) -> str:
    return "total" if period is None else str(int(period))
