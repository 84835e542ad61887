"""failover.decide, moves_on, classify and retry_after_seconds: the pure failover rules of issue 3."""

from __future__ import annotations

import calendar
import math
import time
from collections.abc import Iterator

import pytest

from src.config import FailoverConfig
from src.failover.decision import Action, Decision, Failure, History, classify, decide, moves_on, retry_after_seconds
from src.wire.errors import (
    UpstreamError,
    UpstreamProtocolError,
    UpstreamStatusError,
    UpstreamTimeout,
    UpstreamUnreachable,
)

RETRY, NEXT_KEY, NEXT_ROUTE, GIVE_UP = Action.RETRY, Action.NEXT_KEY, Action.NEXT_ROUTE, Action.GIVE_UP
DEFAULTS = FailoverConfig()  # max_attempts 5, deadline 300, max_retry_wait 5, connect_retries 2


def status(code: int, retry_after: float | None = None) -> Failure:
    return Failure("status", code, retry_after)


def connect() -> Failure:
    return Failure("connect", 502)


def history(**fields: object) -> History:
    """The first failed attempt of a request with one more route after this one, unless told otherwise."""
    return History(**{"attempts": 1, "routes_left": 1, **fields})  # type: ignore[arg-type]


MOVE_ON_STATUSES = [401, 402, 403, 408, 429, 500, 501, 502, 503, 504, 520, 529]
GIVE_UP_STATUSES = [400, 404, 405, 409, 413, 422]

# (failure, history, policy, action, wait)
CASES = [
    # every move-on status moves on when this backend has no other key
    *[pytest.param(status(s), history(), DEFAULTS, NEXT_ROUTE, 0.0, id=f"{s}-moves-on") for s in MOVE_ON_STATUSES],
    # the request's own problems never move on, whatever is left to try
    *[
        pytest.param(status(s), history(keys_left=2, routes_left=3), DEFAULTS, GIVE_UP, 0.0, id=f"{s}-gives-up")
        for s in GIVE_UP_STATUSES
    ],
    pytest.param(status(400, 1.0), history(), DEFAULTS, GIVE_UP, 0.0, id="400-ignores-retry-after"),
    # key rotation: 401, 402 and 429 blame the key; 403 and 5xx do not
    *[
        pytest.param(status(s), history(keys_left=1), DEFAULTS, NEXT_KEY, 0.0, id=f"{s}-next-key")
        for s in (401, 402, 429)
    ],
    *[
        pytest.param(status(s), history(keys_left=1), DEFAULTS, NEXT_ROUTE, 0.0, id=f"{s}-keeps-no-key")
        for s in (403, 408, 500, 503, 529)
    ],
    pytest.param(
        status(429), history(keys_left=1, routes_left=0), DEFAULTS, NEXT_KEY, 0.0, id="429-last-route-next-key"
    ),
    pytest.param(status(429, 1.0), history(keys_left=1), DEFAULTS, NEXT_KEY, 0.0, id="429-next-key-before-waiting"),
    pytest.param(
        Failure("timeout", 401), history(keys_left=1), DEFAULTS, NEXT_ROUTE, 0.0, id="key-rotation-status-only"
    ),
    # other kinds of failure
    pytest.param(Failure("timeout", 504), history(), DEFAULTS, NEXT_ROUTE, 0.0, id="timeout-no-quick-retry"),
    pytest.param(Failure("protocol", 502), history(), DEFAULTS, NEXT_ROUTE, 0.0, id="protocol-moves-on"),
    pytest.param(Failure("protocol", 500), history(), DEFAULTS, NEXT_ROUTE, 0.0, id="protocol-500-moves-on"),
    # connection errors: up to connect_retries quick retries, 0.1 s then 0.2 s (jitter 1)
    pytest.param(connect(), history(route_retries=0), DEFAULTS, RETRY, 0.1, id="connect-retry-1"),
    pytest.param(connect(), history(route_retries=1), DEFAULTS, RETRY, 0.2, id="connect-retry-2"),
    pytest.param(connect(), history(route_retries=2), DEFAULTS, NEXT_ROUTE, 0.0, id="connect-retries-used"),
    pytest.param(
        connect(), history(route_retries=0, routes_left=0), DEFAULTS, RETRY, 0.1, id="connect-retry-last-route"
    ),
    pytest.param(
        connect(), history(route_retries=2, routes_left=0), DEFAULTS, GIVE_UP, 0.0, id="connect-last-route-used"
    ),
    pytest.param(
        connect(), history(), FailoverConfig(connect_retries=0), NEXT_ROUTE, 0.0, id="connect-retries-disabled"
    ),
    pytest.param(
        connect(), history(route_retries=2), FailoverConfig(connect_retries=3), RETRY, 0.4, id="connect-retry-3"
    ),
    pytest.param(connect(), history(elapsed=299.95), DEFAULTS, NEXT_ROUTE, 0.0, id="connect-backoff-past-deadline"),
    # max_attempts counts the failed attempt
    pytest.param(status(503), history(attempts=4), DEFAULTS, NEXT_ROUTE, 0.0, id="attempt-4-of-5"),
    pytest.param(status(503), history(attempts=5), DEFAULTS, GIVE_UP, 0.0, id="attempt-5-of-5"),
    pytest.param(status(429), history(attempts=5, keys_left=2), DEFAULTS, GIVE_UP, 0.0, id="attempts-beat-keys"),
    pytest.param(connect(), history(attempts=5), DEFAULTS, GIVE_UP, 0.0, id="attempts-beat-connect-retry"),
    pytest.param(status(503), history(), FailoverConfig(max_attempts=1), GIVE_UP, 0.0, id="max-attempts-1"),
    # the deadline
    pytest.param(status(503), history(elapsed=299.0), DEFAULTS, NEXT_ROUTE, 0.0, id="before-deadline"),
    pytest.param(status(503), history(elapsed=300.0), DEFAULTS, GIVE_UP, 0.0, id="at-deadline"),
    pytest.param(status(503), history(elapsed=301.0), DEFAULTS, GIVE_UP, 0.0, id="past-deadline"),
    pytest.param(status(503), history(elapsed=2.0), FailoverConfig(deadline=1.5), GIVE_UP, 0.0, id="short-deadline"),
    # Retry-After on 429 and 503: waited for once when at most max_retry_wait and within the deadline
    pytest.param(status(429, 2.5), history(), DEFAULTS, RETRY, 2.5, id="429-retry-after-within"),
    pytest.param(status(503, 1.0), history(), DEFAULTS, RETRY, 1.0, id="503-retry-after-within"),
    pytest.param(status(503, 5.0), history(), DEFAULTS, RETRY, 5.0, id="retry-after-equal-max"),
    pytest.param(status(429, 0.0), history(), DEFAULTS, RETRY, 0.0, id="retry-after-zero"),
    pytest.param(status(503, 1.0), history(routes_left=0), DEFAULTS, RETRY, 1.0, id="retry-after-last-route"),
    pytest.param(status(503, 5.01), history(), DEFAULTS, NEXT_ROUTE, 0.0, id="retry-after-over-max"),
    pytest.param(status(503, 60.0), history(routes_left=0), DEFAULTS, GIVE_UP, 0.0, id="retry-after-over-max-last"),
    pytest.param(status(503, 1.0), history(waited=True), DEFAULTS, NEXT_ROUTE, 0.0, id="retry-after-already-waited"),
    pytest.param(status(429, 1.0), history(waited=True, routes_left=0), DEFAULTS, GIVE_UP, 0.0, id="waited-last-route"),
    pytest.param(status(503, 3.0), history(elapsed=298.0), DEFAULTS, NEXT_ROUTE, 0.0, id="retry-after-past-deadline"),
    pytest.param(status(503, 2.0), history(elapsed=298.0), DEFAULTS, RETRY, 2.0, id="retry-after-just-fits"),
    pytest.param(status(503, 8.0), history(), FailoverConfig(max_retry_wait=10), RETRY, 8.0, id="max-retry-wait-10"),
    pytest.param(status(503, 1.0), history(), FailoverConfig(max_retry_wait=0), NEXT_ROUTE, 0.0, id="max-retry-wait-0"),
    pytest.param(status(502, 1.0), history(), DEFAULTS, NEXT_ROUTE, 0.0, id="502-retry-after-not-waited"),
    pytest.param(status(500, 1.0), history(), DEFAULTS, NEXT_ROUTE, 0.0, id="500-retry-after-not-waited"),
    pytest.param(status(408, 1.0), history(), DEFAULTS, NEXT_ROUTE, 0.0, id="408-retry-after-not-waited"),
    pytest.param(status(503, math.inf), history(), DEFAULTS, NEXT_ROUTE, 0.0, id="retry-after-infinite"),
    # nothing left
    pytest.param(status(503), history(routes_left=0), DEFAULTS, GIVE_UP, 0.0, id="503-no-route-left"),
    pytest.param(status(401), history(routes_left=0), DEFAULTS, GIVE_UP, 0.0, id="401-no-key-no-route"),
    pytest.param(Failure("timeout", 504), history(routes_left=0), DEFAULTS, GIVE_UP, 0.0, id="timeout-no-route"),
]


@pytest.mark.parametrize(("failure", "past", "policy", "action", "wait"), CASES)
def test_decide(failure: Failure, past: History, policy: FailoverConfig, action: Action, wait: float) -> None:
    decision = decide(failure, past, policy, jitter=1.0)
    assert isinstance(decision, Decision)
    assert decision.action == action
    assert decision.wait == pytest.approx(wait)
    assert decision.reason


@pytest.mark.parametrize(
    ("route_retries", "jitter", "wait"),
    [(0, 1.0, 0.1), (1, 1.0, 0.2), (0, 0.5, 0.05), (1, 0.5, 0.1), (1, 0.75, 0.15)],
)
def test_connect_backoff_is_jittered_exponential(route_retries: int, jitter: float, wait: float) -> None:
    decision = decide(connect(), history(route_retries=route_retries), DEFAULTS, jitter=jitter)
    assert decision.action is RETRY
    assert decision.wait == pytest.approx(wait)


def test_retry_after_wait_is_not_jittered() -> None:
    assert decide(status(429, 4.0), history(), DEFAULTS, jitter=0.5).wait == 4.0


@pytest.mark.parametrize(
    ("failure", "past", "policy", "reason"),
    [
        (status(422), history(), DEFAULTS, "422"),
        (status(503), history(attempts=3), FailoverConfig(max_attempts=3), "max_attempts (3)"),
        (status(503), history(elapsed=20.0), FailoverConfig(deadline=12.5), "deadline (12.5s)"),
        (status(402), history(keys_left=1), DEFAULTS, "402"),
        (status(429, 2.0), history(), DEFAULTS, "Retry-After 2s"),
        (status(503), history(routes_left=0), DEFAULTS, "no route left"),
    ],
)
def test_decide_reason(failure: Failure, past: History, policy: FailoverConfig, reason: str) -> None:
    assert reason in decide(failure, past, policy).reason


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        *[(status(s), True) for s in MOVE_ON_STATUSES],
        *[(status(s), False) for s in GIVE_UP_STATUSES],
        (status(418), False),
        (status(599), True),
        (Failure("connect", 502), True),
        (Failure("timeout", 504), True),
        (Failure("protocol", 502), True),
    ],
)
def test_moves_on(failure: Failure, expected: bool) -> None:
    assert moves_on(failure) is expected


NOW = float(calendar.timegm((2015, 10, 21, 7, 27, 30, 0, 0, 0)))  # 30 s before the dates below


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (UpstreamStatusError("or", 429, "slow down", retry_after="3"), Failure("status", 429, 3.0)),
        (UpstreamStatusError("or", 503, "busy", retry_after="0.5"), Failure("status", 503, 0.5)),
        (
            UpstreamStatusError("or", 503, "busy", retry_after="Wed, 21 Oct 2015 07:28:00 GMT"),
            Failure("status", 503, 30.0),
        ),
        (UpstreamStatusError("or", 429, "slow down", retry_after="later"), Failure("status", 429, None)),
        (UpstreamStatusError("or", 400, "bad"), Failure("status", 400, None)),
        (UpstreamStatusError("or", 529, "overloaded"), Failure("status", 529, None)),
        (UpstreamTimeout("or", "no data for 600s"), Failure("timeout", 504, None)),
        (UpstreamUnreachable("or", "connection refused"), Failure("connect", 502, None)),
        (UpstreamProtocolError("or", "not JSON"), Failure("protocol", 502, None)),
        (UpstreamError("or", "something else"), Failure("protocol", 500, None)),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else None,
)
def test_classify(error: UpstreamError, expected: Failure) -> None:
    assert classify(error, NOW) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        ("0", 0.0),
        ("1.5", 1.5),
        (" 7 ", 7.0),
        ("1e2", 100.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 30.0),  # IMF-fixdate
        ("Wednesday, 21-Oct-15 07:28:00 GMT", 30.0),  # obsolete RFC 850 form
        ("Wed, 21 Oct 2015 07:30:00 GMT", 150.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),  # a date in the past means now
        ("-5", 0.0),
        ("-0.25", 0.0),
        ("soon", None),
        ("0x10", None),
        ("Wed, 32 Oct 2015 07:28:00 GMT", None),
        ("nan", None),
        ("NaN", None),
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_retry_after_seconds(value: str | None, expected: float | None) -> None:
    assert retry_after_seconds(value, NOW) == expected


@pytest.fixture
def west_of_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A machine whose local time is five hours behind UTC."""
    monkeypatch.setenv("TZ", "XYZ+05")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("west_of_utc")
@pytest.mark.parametrize("value", ["Wed, 21 Oct 2015 07:28:00 GMT", "Wednesday, 21-Oct-15 07:28:00 GMT"])
def test_retry_after_date_ignores_local_time_zone(value: str) -> None:
    assert retry_after_seconds(value, NOW) == 30.0


@pytest.mark.usefixtures("west_of_utc")
def test_retry_after_asctime_date_is_gmt() -> None:
    assert retry_after_seconds("Wed Oct 21 07:28:00 2015", NOW) == 30.0
