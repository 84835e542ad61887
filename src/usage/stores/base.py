"""What every usage store shares: the interface, the rules of writing (see src/usage/store.py), and
the helpers both implementations use."""


from __future__ import annotations

import logging
import re
from abc import ABC, abstractmethod
from os import PathLike
from typing import Any, TypeGuard
from urllib.parse import urlsplit, urlunsplit

from src.usage.record import UsageRecord
from src.usage.since import iso_utc

log = logging.getLogger("switchyard.usage")
Database = str | PathLike[str] | None
GROUPS = ("key", "model", "backend", "day")  # what a summary groups by (day: the UTC day); each store has its SQL
FIELDS = ("requests", "errors", "prompt_tokens", "completion_tokens", "reasoning_tokens", "cached_tokens", "cost_usd")
EMPTY_TOTALS: tuple[Any, ...] = (0, 0, 0, 0, 0, 0, None)
MAX_PENDING = 100_000  # records kept for a retry while the database cannot be written; older ones are dropped
POSTGRES_SCHEMES = ("postgresql://", "postgres://")
Rows = tuple[tuple[Any, ...], list[tuple[Any, ...]]]  # a summary's totals, and its rows (group first)


class UsageDatabaseError(Exception):
    """The usage database cannot be reached or read. The message never holds a password."""


class UsageStore(ABC):
    """The usage records of one database (`src.usage.store.open_store` picks the implementation)."""

    enabled = True

    def __init__(self, database: Database, *, flush_interval: float = 0.5, batch_size: int = 200) -> None:
        self.database = database
        self.flush_interval = flush_interval
        self.batch_size = batch_size

    @property
    def name(self) -> str:
        """The database, fit to print or log: a URL's password is masked."""
        return display_name(self.database)

    @abstractmethod
    async def start(self) -> None:
        """Open (creating or migrating) the database and start the writer; raises SchemaError or the database's error."""
        raise NotImplementedError

    @abstractmethod
    def record(self, rec: UsageRecord) -> None:
        """Queue `rec` for writing. O(1), never blocks and never raises."""
        raise NotImplementedError

    @abstractmethod
    async def flush(self) -> None:
        """Wait until every record queued so far has been written (or its write has failed)."""
        raise NotImplementedError

    @abstractmethod
    async def close(self) -> None:
        """Write everything still queued, then stop the writer. Later records are not kept."""
        raise NotImplementedError

    async def summary(self, since: float | None, group_by: str, key_name: str | None = None) -> dict[str, Any]:
        """Totals and one row per group (key, model, backend or UTC day) of the requests since `since`.

        `key_name` restricts it to one proxy key (None: every key). Errors are statuses >= 400;
        cost is the sum of the known costs, None when none is known.
        """
        if group_by not in GROUPS:
            raise ValueError(f"unknown group_by {group_by!r} (expected one of: {', '.join(GROUPS)})")
        totals, rows = await self._summary(since, group_by, key_name)
        return {
            "since": None if since is None else iso_utc(since),
            "group_by": group_by,
            "totals": dict(zip(FIELDS, totals, strict=True)),
            "rows": [{"group": row[0], **dict(zip(FIELDS, row[1:], strict=True))} for row in rows],
        }

    @abstractmethod
    async def _summary(self, since: float | None, group_by: str, key_name: str | None) -> Rows:
        """The totals, then the rows ordered by cost, then requests, then group (bytewise, NULL first); by day, by day."""
        raise NotImplementedError

    @abstractmethod
    async def key_history(self, key_name: str, since: float | None, recent: int) -> tuple[float, list[float]]:
        """`key_name`'s known spend in USD since `since` (None: ever), and its last `recent` known costs, oldest first."""
        raise NotImplementedError


class DisabledStore(UsageStore):
    """`usage.database: null`: records are not kept, and every read is empty."""

    enabled = False

    async def start(self) -> None:
        return None

    def record(self, rec: UsageRecord) -> None:
        return None

    async def flush(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def _summary(self, since: float | None, group_by: str, key_name: str | None) -> Rows:
        return EMPTY_TOTALS, []

    async def key_history(self, key_name: str, since: float | None, recent: int) -> tuple[float, list[float]]:
        return 0.0, []


def is_postgres(database: Database) -> TypeGuard[str]:
    return isinstance(database, str) and database.lower().startswith(POSTGRES_SCHEMES)


def display_name(database: Database) -> str:
    """`database` without its password: `postgresql://user:***@host/db` (also `?password=***`)."""
    if database is None:
        return "off"
    if not is_postgres(database):
        return str(database)
    parts = urlsplit(database)
    userinfo, at, hosts = parts.netloc.rpartition("@")
    user, colon, _ = userinfo.partition(":")
    netloc = f"{user}{':***' if colon else ''}{at}{hosts}"
    query = re.sub(r"(?i)(^|&)password=[^&]*", r"\1password=***", parts.query)
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def keep_for_retry(batch: list[UsageRecord], exc: BaseException) -> list[UsageRecord]:
    """What a failed batch leaves to retry: all of it, up to MAX_PENDING of the latest records."""
    log.warning("usage store: cannot write %d records, will retry: %s", len(batch), exc)
    if len(batch) > MAX_PENDING:
        log.error("usage store: dropping the %d oldest unwritten records", len(batch) - MAX_PENDING)
        return batch[-MAX_PENDING:]
    return batch


def report_refused(refused: list[str]) -> None:
    if refused:
        log.error("usage store: %d records cannot be written and are dropped: %s", len(refused), "; ".join(refused))


def where(since: float | None, key_name: str | None, mark: str = "?") -> tuple[str, list[object]]:
    """The WHERE clause of a read and its parameters; `mark` "$" numbers them as PostgreSQL does."""
    clauses: list[str] = []
    params: list[object] = []
    for column, op, value in (("time", ">=", since), ("key_name", "=", key_name)):
        if value is not None:
            params.append(value)
            clauses.append(f"{column} {op} {'?' if mark == '?' else f'${len(params)}'}")
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), params
