"""Per-key budgets (counting requests in flight) and rpm."""

from __future__ import annotations

import asyncio

import pytest

from src.usage.limits import Budgets, KeyLimits, LimitExceeded
from src.usage.since import parse_since, period_start

pytestmark = pytest.mark.anyio
NOW = parse_since("2024-05-01T12:00:00Z", 0)
DAY = 86400.0


def budgets(limits: KeyLimits, alice: float = 0.0, recent: tuple[float, ...] = ()) -> Budgets:
    """alice's budgets as the proxy starts them: her spend in her period and her recent costs, from the database."""
    b = Budgets({"alice": limits})
    b.load("alice", period_start(limits.budget_period, NOW), alice, recent)
    return b


def refusal(b: Budgets, now: float = NOW) -> LimitExceeded:
    """The refusal of alice's next request: it reports what she has used, requests in flight included."""
    with pytest.raises(LimitExceeded) as caught:
        b.admit("alice", now)
    return caught.value


@pytest.mark.parametrize(
    ("limits", "db_spent", "costs", "admitted"),
    [
        # no limit at all
        (KeyLimits(), 1e9, [1.0] * 5, [True] * 5),
        # spend from the database counts
        (KeyLimits(budget_usd=1.0), 0.99, [0.5, 0.5], [True, False]),
        (KeyLimits(budget_usd=1.0), 1.0, [0.5], [False]),
        (KeyLimits(budget_usd=1.0), 0.0, [0.4, 0.4, 0.4, 0.4], [True, True, True, False]),  # one request of overshoot
        (KeyLimits(budget_usd=0.0), 0.0, [0.0], [False]),
        # unknown costs count as 0
        (KeyLimits(budget_usd=1.0), 0.5, [None, None, None], [True, True, True]),
        # rpm alone, all at the same instant
        (KeyLimits(rpm=2), 0.0, [0.1, 0.1, 0.1], [True, True, False]),
        (KeyLimits(budget_usd=10.0, rpm=1), 0.0, [0.1, 0.1], [True, False]),
    ],
)
def test_admission_one_after_another(
    limits: KeyLimits, db_spent: float, costs: list[float | None], admitted: list[bool]
) -> None:
    b = budgets(limits, alice=db_spent)
    outcome = []
    for cost in costs:
        try:
            b.settle(b.admit("alice", NOW), cost)
            outcome.append(True)
        except LimitExceeded:
            outcome.append(False)
    assert outcome == admitted


def test_other_keys_are_not_limited() -> None:
    b = budgets(KeyLimits(budget_usd=0.0, rpm=1), alice=5.0)
    for _ in range(100):
        reservation = b.admit("bob", NOW)
        assert (reservation.estimate, reservation.period) == (0.0, None)  # nothing kept: no cost learnt
        b.settle(reservation, 1.0)
    assert refusal(b).spent == 5.0  # alice's own figure, untouched by bob's


@pytest.mark.parametrize(
    ("period", "message"),
    [
        ("daily", ("proxy key 'alice' is over its daily budget: $1.25 spent (including requests in flight) "
                   "of $1.00; resets at 2024-05-02T00:00:00Z")),
        ("monthly", ("proxy key 'alice' is over its monthly budget: $1.25 spent (including requests in flight) "
                     "of $1.00; resets at 2024-06-01T00:00:00Z")),
        ("total", ("proxy key 'alice' is over its total budget: $1.25 spent (including requests in flight) "
                   "of $1.00; a total budget does not reset")),
    ],
)  # fmt: skip
def test_budget_refusal_says_which_limit_spent_and_reset(period: str, message: str) -> None:
    b = budgets(KeyLimits(budget_usd=1.0, budget_period=period), alice=1.25)
    with pytest.raises(LimitExceeded) as caught:
        b.admit("alice", NOW)
    exc = caught.value
    assert (str(exc), exc.message, exc.limit, exc.spent, exc.limit_value) == (message, message, "budget", 1.25, 1.0)
    expected_reset = {"daily": NOW + DAY / 2, "monthly": parse_since("2024-06-01", 0), "total": None}[period]
    assert exc.resets_at == expected_reset
    assert exc.retry_after(NOW) == (None if expected_reset is None else int(expected_reset - NOW))


def test_loaded_spend_counts_then_the_tally_is_kept_here() -> None:
    b = budgets(KeyLimits(budget_usd=0.5, budget_period="daily"), alice=0.25)
    for offset in (0.0, 60.0, 3600.0):
        b.settle(b.admit("alice", NOW + offset), 0.1)
    assert refusal(b, NOW + 7200).spent == pytest.approx(0.55)  # 0.25 from the database, 0.30 since


def test_loaded_recent_costs_are_the_first_estimate() -> None:
    b = budgets(KeyLimits(budget_usd=1.0), recent=(0.02, 0.07, 0.03))
    assert b.admit("alice", NOW).estimate == 0.07  # a restart forgets nothing
    assert b.admit("alice", NOW, estimate=0.2).estimate == 0.2  # the request's own, when larger


def test_a_new_period_starts_from_nothing_spent() -> None:
    b = budgets(KeyLimits(budget_usd=1.0, budget_period="daily"), alice=0.9)
    in_flight = b.admit("alice", NOW)  # admitted on May 1st, settled on May 2nd
    b.settle(b.admit("alice", NOW), 0.5)
    with pytest.raises(LimitExceeded):
        b.admit("alice", NOW)
    tomorrow = NOW + DAY
    reservation = b.admit("alice", tomorrow)
    assert reservation.period == parse_since("2024-05-02", 0)
    assert reservation.estimate == 0.5  # the largest recent cost
    b.settle(in_flight, 0.7)  # counts for May 1st, not against May 2nd's budget
    extra = b.admit("alice", tomorrow)  # admitted: 0.5 in flight, not 0.5 + 0.7
    assert extra.estimate == 0.7
    assert refusal(b, tomorrow).spent == pytest.approx(reservation.estimate + extra.estimate)
    b.settle(reservation, 0.2)
    b.settle(extra, None)
    b.admit("alice", tomorrow)
    b.admit("alice", tomorrow)  # 0.2 spent and 0.7 in flight: still under 1.0
    assert refusal(b, tomorrow).spent == pytest.approx(0.2 + 0.7 + 0.7)


def test_reservation_estimate_is_the_largest_recent_cost() -> None:
    b = budgets(KeyLimits(budget_usd=1.2))
    assert b.admit("alice", NOW).estimate == 0.0  # nothing known yet: not a guess
    for cost in (0.1, 0.3, None, 0.2):
        b.settle(b.admit("alice", NOW), cost)
    first, second = b.admit("alice", NOW), b.admit("alice", NOW)
    assert (first.estimate, second.estimate) == (0.3, 0.3)
    assert refusal(b).spent == pytest.approx(0.6 + 0.6)  # settled plus two reservations
    b.settle(first, 0.05)
    b.settle(first, 0.05)  # settling twice counts once
    b.admit("alice", NOW)  # 0.95 used: one more, estimated at 0.3
    assert refusal(b).spent == pytest.approx(0.6 + 0.05 + 0.3 + 0.3)


def test_rpm_sliding_window() -> None:
    b = budgets(KeyLimits(rpm=3))
    for offset in (0.0, 10.0, 20.0):
        b.admit("alice", NOW + offset)
    with pytest.raises(LimitExceeded) as caught:
        b.admit("alice", NOW + 30.0)
    exc = caught.value
    assert (exc.limit, exc.spent, exc.limit_value, exc.resets_at) == ("rpm", 3, 3, NOW + 60.0)
    assert exc.message == (
        "proxy key 'alice' is over its rate limit: 3 requests in the last 60 s of 3 per minute; "
        "resets at 2024-05-01T12:01:00Z"
    )
    assert exc.retry_after(NOW + 30.0) == 30
    b.admit("alice", NOW + 60.0)  # the first admission has left the window
    with pytest.raises(LimitExceeded):
        b.admit("alice", NOW + 65.0)
    b.admit("alice", NOW + 70.0)


def test_refused_requests_do_not_use_the_rate() -> None:
    b = budgets(KeyLimits(budget_usd=1.0, rpm=2), alice=2.0)
    for _ in range(5):
        with pytest.raises(LimitExceeded, match="budget"):
            b.admit("alice", NOW)
    b.settle(Budgets({}).admit("alice", NOW), None)  # a foreign reservation is harmless


async def one_request(b: Budgets, cost: float, log: list[str]) -> bool:
    try:
        reservation = b.admit("alice", NOW)
    except LimitExceeded:
        log.append("refused")
        return False
    log.append("admitted")
    await asyncio.sleep(0.01)  # upstream time: everyone else is admitted or refused meanwhile
    b.settle(reservation, cost)
    return True


@pytest.mark.parametrize(
    ("budget", "db_spent", "known_cost", "concurrent", "expected_admitted"),
    [
        (1.0, 0.0, 0.3, 20, 3),  # 0.3 settled + 3 x 0.3 reserved reaches 1.2: the 4th is refused
        (1.0, 0.45, 0.1, 50, 5),  # 0.55 settled: admitted at 0.55, 0.65, 0.75, 0.85 and 0.95
        (1.0, 0.95, 0.3, 20, 0),  # 0.95 + the probe's 0.3 is already over
        (100.0, 0.0, 0.3, 30, 30),  # plenty of room
    ],
)
async def test_concurrent_admissions_respect_the_budget(
    budget: float, db_spent: float, known_cost: float, concurrent: int, expected_admitted: int
) -> None:
    b = budgets(KeyLimits(budget_usd=budget), alice=db_spent)
    probe_admitted = await one_request(b, known_cost, [])  # makes the cost of a request known
    log: list[str] = []
    results = await asyncio.gather(*(one_request(b, known_cost, log) for _ in range(concurrent)))
    admitted = sum(results)
    assert admitted == expected_admitted
    total = db_spent + known_cost * (admitted + probe_admitted)  # what was settled, all requests done
    try:
        b.admit("alice", NOW)
    except LimitExceeded as exc:
        assert exc.spent == pytest.approx(total)
    else:
        assert total < budget
    assert total < budget + known_cost or admitted == 0  # at most one request past the budget
    assert log.count("admitted") == admitted


async def test_unknown_estimate_bounds_overshoot_to_one_request_each() -> None:
    # With no cost known and no estimate of its own (no price), each request adds at most itself.
    b = budgets(KeyLimits(budget_usd=1.0))
    results = await asyncio.gather(*(one_request(b, 0.2, []) for _ in range(10)))
    assert all(results)
    exc = refusal(b)
    assert exc.spent == pytest.approx(2.0)
    assert "$2.00 spent" in exc.message


@pytest.mark.parametrize("spent", [0.0, 0.52])
async def test_a_burst_with_estimates_overshoots_by_at_most_one_estimate(spent: float) -> None:
    b = budgets(KeyLimits(budget_usd=1.0), alice=spent)
    estimate, cost = 0.012, 0.01  # each request's own estimate bounds its cost

    async def request() -> bool:
        try:
            reservation = b.admit("alice", NOW, estimate)
        except LimitExceeded:
            return False
        await asyncio.sleep(0.01)
        b.settle(reservation, cost)
        return True

    admitted = sum(await asyncio.gather(*(request() for _ in range(200))))
    assert spent + admitted * cost <= 1.0 + estimate
    assert admitted == int((1.0 - spent) // estimate) + 1  # admitted while below the budget


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"budget_period": "weekly"}, "unknown budget period 'weekly'"),
        ({"budget_usd": -1.0}, "budget_usd must be a non-negative number"),
        ({"budget_usd": float("nan")}, "budget_usd must be a non-negative number"),
        ({"rpm": 0}, "rpm must be at least 1"),
    ],
)
def test_key_limits_validation(fields: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        KeyLimits(**fields)
