"""`--since` windows and budget periods."""

from __future__ import annotations

import pytest

from src.usage.since import iso_utc, parse_since, period_reset, period_start

NOW = 1_714_564_800.0  # 2024-05-01T12:00:00Z
DAY = 86400


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7d", NOW - 7 * DAY),
        ("24h", NOW - DAY),
        ("30m", NOW - 1800),
        ("2w", NOW - 14 * DAY),
        ("45s", NOW - 45),
        ("0d", NOW),
        (" 7D ", NOW - 7 * DAY),
        ("2024-05-01", NOW - 12 * 3600),
        ("2024-04-30T12:00:00Z", NOW - DAY),
        ("2024-04-30T12:00:00", NOW - DAY),  # naive is UTC
        ("2024-04-30 12:00", NOW - DAY),
        ("2024-05-01T14:00:00+02:00", NOW),
        ("2024-05-01T12:00:00.500Z", NOW + 0.5),
    ],
)
def test_parse_since(text: str, expected: float) -> None:
    assert parse_since(text, NOW) == expected


@pytest.mark.parametrize("text", ["", "   ", "7", "d", "-7d", "1y", "7 days", "1.5d", "yesterday", "2024-13-01", "2024"])
def test_parse_since_rejects(text: str) -> None:
    with pytest.raises(ValueError, match=r"invalid since .*expected a duration such as 30m, 24h, 7d"):
        parse_since(text, NOW)


@pytest.mark.parametrize(
    ("period", "now", "start", "reset"),
    [
        ("daily", "2024-05-01T12:00:00Z", "2024-05-01T00:00:00Z", "2024-05-02T00:00:00Z"),
        ("daily", "2024-05-01T00:00:00Z", "2024-05-01T00:00:00Z", "2024-05-02T00:00:00Z"),
        ("daily", "2024-02-29T23:59:59Z", "2024-02-29T00:00:00Z", "2024-03-01T00:00:00Z"),
        ("monthly", "2024-05-17T08:30:00Z", "2024-05-01T00:00:00Z", "2024-06-01T00:00:00Z"),
        ("monthly", "2024-12-31T23:59:59Z", "2024-12-01T00:00:00Z", "2025-01-01T00:00:00Z"),
        ("monthly", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z"),
        ("monthly", "2024-05-01T01:00:00+02:00", "2024-04-01T00:00:00Z", "2024-05-01T00:00:00Z"),  # UTC, not local
        ("total", "2024-05-01T12:00:00Z", None, None),
    ],
)
def test_periods(period: str, now: str, start: str | None, reset: str | None) -> None:
    moment = parse_since(now, 0)
    got_start, got_reset = period_start(period, moment), period_reset(period, moment)
    assert (None if got_start is None else iso_utc(got_start)) == start
    assert (None if got_reset is None else iso_utc(got_reset)) == reset


def test_unknown_period() -> None:
    with pytest.raises(ValueError, match="unknown budget period 'weekly'"):
        period_start("weekly", NOW)
    with pytest.raises(ValueError, match="unknown budget period"):
        period_reset("hourly", NOW)


def test_iso_utc() -> None:
    assert iso_utc(NOW + 0.9) == "2024-05-01T12:00:00Z"
