"""Time windows: `--since 7d` style starts, and the UTC day and month of budget periods."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

PERIODS = ("daily", "monthly", "total")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^(\d{1,9})\s*([smhdw])$", re.IGNORECASE)
_EXPECTED = "expected a duration such as 30m, 24h, 7d or 2w, or an ISO 8601 date or time such as 2024-05-01 or 2024-05-01T12:00:00Z"


def parse_since(text: str, now: float) -> float:
    """The unix time `text` means: `now` minus a duration, or an ISO 8601 date/time (naive = UTC)."""
    value = text.strip() if isinstance(text, str) else ""
    match = _DURATION.match(value)
    if match:
        return now - int(match.group(1)) * _UNITS[match.group(2).lower()]
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"invalid since {text!r}: {_EXPECTED}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def period_start(period: str, now: float) -> float | None:
    """When the budget period holding `now` began: UTC midnight, the UTC first of the month, or None (total)."""
    start = _start(period, _utc(now))
    return None if start is None else start.timestamp()


def period_reset(period: str, now: float) -> float | None:
    """When the budget period holding `now` ends and spend starts again from zero; None for total."""
    start = _start(period, _utc(now))
    if start is None:
        return None
    if period == "daily":
        return (start + timedelta(days=1)).timestamp()
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    return start.replace(year=year, month=month).timestamp()


def iso_utc(timestamp: float) -> str:
    """A unix time as ISO 8601 UTC to the second, `2024-05-01T00:00:00Z`."""
    return _utc(timestamp).strftime("%Y-%m-%dT%H:%M:%SZ")


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _start(period: str, moment: datetime) -> datetime | None:
    if period == "daily":
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "monthly":
        return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if period == "total":
        return None
    raise ValueError(f"unknown budget period {period!r} (expected one of: {', '.join(PERIODS)})")
