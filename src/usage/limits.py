"""Per-key budgets and rate limits, decided in memory before a request goes upstream.

Spend counts requests in flight. Each admitted request reserves an estimate of its cost until
it is settled with the actual cost, and a key is admitted only while its settled spend plus
its reservations are below the budget. The estimate is the larger of the key's most costly
request among its last RECENT ones and what the request itself may cost (its size and
`max_tokens` at the catalog's prices: `src.usage.estimate`).

The overshoot bound: when every request costs at most its estimate, a key's spend ends at
most one estimate past its budget, however many requests arrive at once (the last one
admitted was admitted below the budget, and every one before it is reserved). A request
that costs more than its estimate adds at most that difference besides.

The spend of each key's budget period and its recent costs are loaded from the usage database
at start (`load`), before the first request: a restart forgets nothing. From then on the tally
is kept here, so records not yet flushed to the database are counted. Everything runs on one
event loop: admit() and settle() never await, so no lock is needed.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from src.usage.pricing import format_usd
from src.usage.since import PERIODS, iso_utc, period_reset, period_start

RECENT = 20  # settled costs per key that the reservation estimate is taken from
WINDOW = 60.0  # seconds of the rpm sliding window


@dataclass(frozen=True, slots=True)
class KeyLimits:
    """A proxy key's limits; None means no limit."""

    budget_usd: float | None = None
    budget_period: str = "total"  # daily (UTC day) | monthly (UTC month) | total
    rpm: int | None = None  # admissions in any sliding 60 s

    def __post_init__(self) -> None:
        if self.budget_period not in PERIODS:
            raise ValueError(f"unknown budget period {self.budget_period!r} (expected one of: {', '.join(PERIODS)})")
        if self.budget_usd is not None and not (math.isfinite(self.budget_usd) and self.budget_usd >= 0):
            raise ValueError("budget_usd must be a non-negative number")
        if self.rpm is not None and self.rpm < 1:
            raise ValueError("rpm must be at least 1")


class LimitExceeded(Exception):
    """A key is over its budget or rate: answer 429 with `message` (and Retry-After from `resets_at`)."""

    def __init__(
        self, key_name: str, limit: str, spent: float, limit_value: float, resets_at: float | None, message: str
    ) -> None:
        super().__init__(message)
        self.key_name = key_name
        self.limit = limit  # "budget" | "rpm"
        self.spent = spent  # USD (budget) or requests in the window (rpm)
        self.limit_value = limit_value
        self.resets_at = resets_at  # unix time; None for a total budget, which never resets
        self.message = message

    def retry_after(self, now: float) -> int | None:
        """Whole seconds until the limit resets, for a Retry-After header; None if it never does."""
        return None if self.resets_at is None else max(1, math.ceil(self.resets_at - now))


@dataclass(slots=True)
class Reservation:
    """An admitted request's hold on its key's budget, released by Budgets.settle()."""

    key_name: str
    estimate: float
    period: float | None  # start of the budget period it was admitted in
    settled: bool = False


@dataclass(slots=True)
class _KeyState:
    period: float | None = None
    spent: float = 0.0  # settled spend in the period
    reserved: float = 0.0  # estimates of the requests in flight
    recent: deque[float] = field(default_factory=lambda: deque(maxlen=RECENT))
    admissions: deque[float] = field(default_factory=deque)


class Budgets:
    """Admission by per-key budget and rpm."""

    def __init__(self, limits: Mapping[str, KeyLimits]) -> None:
        self._limits = dict(limits)
        self._keys: dict[str, _KeyState] = {}

    def budgeted(self) -> dict[str, KeyLimits]:
        """The keys with a budget, whose spend and recent costs `load` takes at start."""
        return {name: limits for name, limits in self._limits.items() if limits.budget_usd is not None}

    def load(self, key_name: str, period: float | None, spent: float, recent: Iterable[float]) -> None:
        """A key's spend since `period` (the start of its budget period then) and its latest costs, oldest first."""
        state = self._keys.setdefault(key_name, _KeyState())
        state.period, state.spent = period, spent
        state.recent.extend(recent)

    def has_budget(self, key_name: str) -> bool:
        limits = self._limits.get(key_name)
        return limits is not None and limits.budget_usd is not None

    def admit(self, key_name: str, now: float, estimate: float = 0.0) -> Reservation:
        """Admit one request of `key_name` at unix time `now`, or raise LimitExceeded. `estimate` is
        what the request itself may cost (0 when unknown)."""
        limits = self._limits.get(key_name)
        if limits is None or (limits.budget_usd is None and limits.rpm is None):
            return Reservation(key_name, 0.0, None)
        state = self._keys.setdefault(key_name, _KeyState())
        if limits.budget_usd is not None:
            self._check_budget(key_name, limits, state, now)
        if limits.rpm is not None:
            self._check_rpm(key_name, limits.rpm, state, now)
            state.admissions.append(now)
        reserved = max(max(state.recent, default=0.0), estimate) if limits.budget_usd is not None else 0.0
        state.reserved += reserved
        return Reservation(key_name, reserved, state.period)

    def settle(self, reservation: Reservation, actual_cost: float | None) -> None:
        """Release `reservation` and count the request's cost (None, unknown, counts as 0). Idempotent."""
        if reservation.settled:
            return
        reservation.settled = True
        state = self._keys.get(reservation.key_name)
        if state is None:
            return
        if reservation.period == state.period:  # not a request from a budget period now over
            state.reserved = max(0.0, state.reserved - reservation.estimate)
            state.spent += actual_cost or 0.0
        if actual_cost is not None:
            state.recent.append(actual_cost)

    def _check_budget(self, key_name: str, limits: KeyLimits, state: _KeyState, now: float) -> None:
        assert limits.budget_usd is not None
        start = period_start(limits.budget_period, now)
        if start != state.period:  # a new period: nothing is spent in it yet
            state.spent = state.reserved = 0.0  # requests in flight from the earlier one count there
            state.period = start
        used = state.spent + state.reserved
        if used >= limits.budget_usd:
            raise budget_refusal(key_name, limits, used, now)

    def _check_rpm(self, key_name: str, rpm: int, state: _KeyState, now: float) -> None:
        window = state.admissions
        while window and window[0] <= now - WINDOW:
            window.popleft()
        if len(window) >= rpm:
            raise rpm_refusal(key_name, rpm, len(window), window[0] + WINDOW)


def budget_refusal(key_name: str, limits: KeyLimits, used: float, now: float) -> LimitExceeded:
    assert limits.budget_usd is not None
    resets_at = period_reset(limits.budget_period, now)
    when = "a total budget does not reset" if resets_at is None else f"resets at {iso_utc(resets_at)}"
    message = (
        f"proxy key '{key_name}' is over its {limits.budget_period} budget: "
        f"{format_usd(used)} spent (including requests in flight) of {format_usd(limits.budget_usd)}; {when}"
    )
    return LimitExceeded(key_name, "budget", used, limits.budget_usd, resets_at, message)


def rpm_refusal(key_name: str, rpm: int, count: int, resets_at: float) -> LimitExceeded:
    message = (
        f"proxy key '{key_name}' is over its rate limit: {count} requests in the last "
        f"{WINDOW:.0f} s of {rpm} per minute; resets at {iso_utc(resets_at)}"
    )
    return LimitExceeded(key_name, "rpm", count, rpm, resets_at, message)
