"""SharedLimits alone, without a store: admission against this process's leases (in memory), waiting
(None) for a refill, refusal on the shared figures or after a wait (`final`), settling, the reports it
sends and the grants it applies, periods rolling over, and its share while the store is down."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from src.sharing.store import BudgetGrant, Grants, RateGrant
from src.usage.limits import KeyLimits, LimitExceeded, Reservation
from src.usage.shared_limits import SharedLimits
from src.usage.since import parse_since, period_start

NOW = parse_since("2024-05-01T12:00:00Z", 0)
DAY = 86400.0
M = 1_000_000  # micro-dollars in a dollar


def limits(when_down: str = "closed", *, spent: float = 0.0, recent: tuple[float, ...] = (0.1,),
           **key: Any) -> SharedLimits:  # fmt: skip
    """alice's limits as the proxy starts them (spend and recent costs from the database when budgeted)."""
    shared = SharedLimits({"alice": KeyLimits(**key)}, when_down)
    if shared.has_budget("alice"):
        shared.load("alice", period_start(KeyLimits(**key).budget_period, NOW), spent, recent)
    return shared


def sync(shared: SharedLimits, budget: tuple[int, int, int] | None = None, tokens: int = 0, used: int | None = None,
         instances: int = 1) -> Grants:  # fmt: skip
    """One successful sync: reports, then the store's grant (budget: lease, spent, others)."""
    budgets, rates = shared.reports()
    grants = Grants(budgets=[BudgetGrant(*budget)] if budgets and budget else [],
                    rates=[RateGrant(tokens, 1000, tokens if used is None else used)] if rates else [],
                    instances=instances)  # fmt: skip
    shared.apply(budgets, rates, grants)
    return grants


def outcomes(shared: SharedLimits, count: int, now: float = NOW, final: bool = False) -> str:
    """One letter per request: a(dmitted, its reservation kept), w(ait for a refill), r(efused)."""
    letters = ""
    for _ in range(count):
        try:
            letters += "w" if shared.admit("alice", now, final=final) is None else "a"
        except LimitExceeded:
            letters += "r"
    return letters


@pytest.mark.parametrize(
    ("key", "budget", "tokens", "used", "expected"),
    [
        # budget $1, requests estimated at $0.10 (the recent cost)
        ({"budget_usd": 1.0}, (300_000, 0, 0), 0, None, "aaawww"),  # the lease used up, the key has room: wait
        ({"budget_usd": 1.0}, (300_000, 0, 700_000), 0, None, "aaarrr"),  # others hold the rest: refused
        ({"budget_usd": 1.0}, (100_000, 900_000, 0), 0, None, "arr"),  # spent by the others
        ({"budget_usd": 1.0}, (250_000, 0, 750_000), 0, None, "aaar"),  # one estimate past the lease, no more
        ({"budget_usd": 1.0}, (0, 1_000_000, 0), 0, None, "r"),
        # rpm 10
        ({"rpm": 10}, None, 3, None, "aaaww"),  # 3 used of 10: wait for more tokens
        ({"rpm": 10}, None, 3, 10, "aaarr"),  # the others used the rest of the minute
        ({"rpm": 10}, None, 0, 0, "ww"),  # nothing granted yet
        # both: the rpm is asked first, and a request the budget holds back uses no token
        ({"rpm": 10, "budget_usd": 1.0}, (200_000, 0, 0), 5, None, "aaw"),
        ({"rpm": 10, "budget_usd": 1.0}, (500_000, 0, 0), 2, 10, "aar"),
    ],
)
def test_admission_against_the_leases(
    key: dict[str, Any], budget: tuple[int, int, int] | None, tokens: int, used: int | None, expected: str
) -> None:
    shared = limits(**key)
    sync(shared, budget, tokens, used)
    assert outcomes(shared, len(expected)) == expected


@pytest.mark.parametrize(
    ("key", "budget", "tokens"),
    [({"budget_usd": 1.0}, (100_000, 0, 0), 0), ({"rpm": 10}, None, 1)],
    ids=["budget", "rpm"],
)
def test_after_a_wait_final_refuses_what_would_wait_again(
    key: dict[str, Any], budget: tuple[int, int, int] | None, tokens: int
) -> None:
    shared = limits(**key)
    sync(shared, budget, tokens, used=1)
    assert outcomes(shared, 2) == "aw"
    with pytest.raises(LimitExceeded) as caught:
        shared.admit("alice", NOW, final=True)
    assert caught.value.limit == ("budget" if "budget_usd" in key else "rpm")


def test_keys_without_limits_are_admitted_without_a_lease() -> None:
    shared = limits(rpm=1)
    reservation = shared.admit("bob", NOW)
    assert reservation == Reservation("bob", 0.0, None)
    assert shared.admit("alice", NOW) is None  # alice has no token yet


def test_the_reservation_is_the_larger_of_the_recent_costs_and_the_request_s_estimate() -> None:
    shared = limits(budget_usd=1.0, recent=(0.02, 0.07))
    sync(shared, (1_000_000, 0, 0))
    assert [shared.admit("alice", NOW, e).estimate for e in (0.0, 0.3)] == [0.07, 0.3]  # type: ignore[union-attr]


def test_settling_turns_the_reservation_into_the_cost_reported_once() -> None:
    shared = limits(budget_usd=1.0)
    sync(shared, (300_000, 0, 0))
    first, second, third = (shared.admit("alice", NOW) for _ in range(3))
    assert outcomes(shared, 1) == "w"  # 0.3 reserved
    shared.settle(first, 0.04)  # type: ignore[arg-type]
    shared.settle(first, 0.04)  # type: ignore[arg-type]  # twice counts once
    shared.settle(second, None)  # type: ignore[arg-type]  # unknown cost: nothing spent
    assert outcomes(shared, 2) == "aa"  # 0.04 + 0.1 in flight + two more: 0.34

    budgets, _ = shared.reports()
    (report,) = budgets
    assert (report.key, report.period, report.budget, report.settled, report.in_flight) == (
        "alice", "total", 1_000_000, 40_000, 300_000)  # fmt: skip
    # Twice what it reserved since the last report (five requests), plus what the one that waited wanted.
    assert report.want == 2 * 500_000 + 100_000
    shared.apply(budgets, [], Grants(budgets=[BudgetGrant(600_000, 40_000, 0)]))
    shared.settle(third, 0.2)  # type: ignore[arg-type]
    # The floor sent at every sync: what settled here before the last one.
    assert [(r.settled, r.in_flight, r.known) for r in shared.reports()[0]] == [(200_000, 200_000, 40_000)]


@pytest.mark.parametrize(
    ("key", "spent", "recent", "want", "known"),
    [
        ({"budget_usd": 1.0}, 0.0, (), 1, 0),  # nothing known: ask for a micro-dollar
        ({"budget_usd": 1.0}, 0.25, (0.1, 0.3), 300_000, 250_000),  # one request's worth; the database's spend
        ({"budget_usd": 5.0, "budget_period": "daily"}, 1.5, (0.2,), 200_000, 1_500_000),
    ],
)
def test_the_first_budget_report(key: dict[str, Any], spent: float, recent: tuple[float, ...], want: int,
                                 known: int) -> None:  # fmt: skip
    shared = limits(spent=spent, recent=recent, **key)
    (report,) = shared.reports()[0]
    period = "total" if key.get("budget_period", "total") == "total" else str(int(period_start("daily", NOW) or 0))
    assert (report.period, report.want, report.known, report.settled, report.in_flight) == (period, want, known, 0, 0)
    sync(shared, (want, known, 0))
    assert shared.reports()[0][0].known == known  # sent at every sync: a store restarted empty starts from it


def test_rate_reports_hand_back_the_unused_tokens_and_ask_for_twice_the_demand() -> None:
    shared = limits(rpm=10)
    assert [(r.unused, r.granted_at, r.want) for r in shared.reports()[1]] == [(0, None, 1)]
    sync(shared, tokens=8)
    assert outcomes(shared, 3) == "aaa"
    (report,) = shared.reports()[1]
    assert (report.key, report.rpm, report.unused, report.granted_at, report.want) == ("alice", 10, 5, 1000, 6)
    assert outcomes(shared, 1) == "w"  # handed back: not this process's any more
    shared.apply([], [report], Grants(rates=[RateGrant(2, 1001, 9)]))
    assert outcomes(shared, 3) == "aaw"
    (report,) = shared.reports()[1]
    assert report.want == 6  # twice the two admitted, plus the two that waited (before and after the grant)
    shared.apply([], [report], Grants(rates=[RateGrant(6, 1002, 9)]))
    assert outcomes(shared, 6) == "aaaaaa"
    assert shared.reports()[1][0].want == 10  # never more than the rpm


def test_a_failed_sync_gives_the_tokens_back_to_the_process() -> None:
    shared = limits(rpm=10)
    sync(shared, tokens=4)
    _, rates = shared.reports()
    shared.failed(rates)
    assert shared.alone
    assert shared.reports()[1][0].unused == 4


@pytest.mark.anyio
async def test_a_refill_wakes_the_waiting_requests() -> None:
    shared = limits(rpm=10)
    waiting = [asyncio.ensure_future(shared.refilled(5.0)) for _ in range(3)]
    await asyncio.wait_for(shared.needed(5.0), 1.0)  # the syncer is asked at once
    assert not any(task.done() for task in waiting)
    sync(shared, tokens=3)
    await asyncio.wait_for(asyncio.gather(*waiting), 1.0)
    assert outcomes(shared, 4) == "aaaw"


def test_a_new_period_starts_from_nothing() -> None:
    shared = limits(budget_usd=1.0, budget_period="daily", spent=0.5)
    sync(shared, (400_000, 500_000, 0))
    yesterday = shared.admit("alice", NOW)
    assert outcomes(shared, 3) == "aaa"

    tomorrow = NOW + DAY
    assert outcomes(shared, 1, tomorrow) == "w"  # no lease for the new day yet; its budget is all room
    (report,) = shared.reports()[0]
    assert (report.period, report.settled, report.in_flight, report.known) == (str(int(tomorrow - DAY / 2)), 0, 0, 0)
    shared.apply([report], [], Grants(budgets=[BudgetGrant(200_000, 0, 0)]))
    assert outcomes(shared, 3, tomorrow) == "aaw"
    shared.settle(yesterday, 0.3)  # type: ignore[arg-type]  # counts for yesterday: nothing freed today
    assert outcomes(shared, 1, tomorrow) == "w"
    assert shared.reports()[0][0].settled == 0


@pytest.mark.parametrize(
    ("rpm", "instances", "before", "expected"),
    [
        (60, 3, 0, "a" * 20 + "r"),  # rpm // instances
        (60, 3, 15, "a" * 5 + "r"),  # its own admissions of the last minute count
        (10, 1, 0, "a" * 10 + "r"),
        (2, 3, 0, "ar"),  # at least one
    ],
)
def test_alone_the_rpm_share_is_rpm_over_the_instances(rpm: int, instances: int, before: int, expected: str) -> None:
    shared = limits(rpm=rpm)
    sync(shared, tokens=before, instances=instances)
    assert outcomes(shared, before) == "a" * before
    shared.failed(shared.reports()[1])
    assert outcomes(shared, len(expected), NOW + 1) == expected
    assert outcomes(shared, 1, NOW + 61) == "a"  # a minute later, the window has moved on


@pytest.mark.parametrize(
    ("when_down", "expected"),
    [
        ("closed", "aaar"),  # keeps to its lease: 0.3
        ("open", "aaaaar"),  # the last known room: 1.0 - 0.2 spent - 0.3 held by others
    ],
)
def test_alone_a_budget_keeps_to_its_lease_or_to_the_last_known_room(when_down: str, expected: str) -> None:
    shared = limits(when_down, budget_usd=1.0)
    sync(shared, (300_000, 200_000, 300_000), instances=3)
    shared.failed([])
    assert outcomes(shared, len(expected)) == expected


def test_alone_from_the_start_open_still_counts_the_database_s_spend() -> None:
    shared = limits("open", budget_usd=1.0, spent=0.9)  # the database says $0.90 spent already
    shared.failed(shared.reports()[1])  # the store is down at start: no sync ever carried `known`
    assert outcomes(shared, 3) == "arr"  # room for $0.10: one request (one estimate over at most)


def test_back_from_alone_the_leases_apply_again() -> None:
    shared = limits(rpm=60)
    sync(shared, tokens=0, instances=3)
    shared.failed(shared.reports()[1])
    assert outcomes(shared, 2) == "aa"
    sync(shared, tokens=1, used=60, instances=3)
    assert not shared.alone
    assert outcomes(shared, 2) == "ar"
