"""The PostgreSQL usage store: records go to a server in batches from an asyncio task, through a
small pool of asyncpg connections that the store owns.

asyncpg never blocks the event loop, so the writer is a task rather than a thread: it waits for
a batch to gather, writes it as one INSERT of arrays (postgres_schema.INSERT), and retries it
while the server cannot take it. Reads share the pool; before `start()` (the `usage` command),
a read opens one connection of its own and neither creates nor migrates anything.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import asyncpg

from src.usage import schema
from src.usage.record import UsageRecord
from src.usage.stores import postgres_schema
from src.usage.stores.base import (
    EMPTY_TOTALS,
    Rows,
    UsageDatabaseError,
    UsageStore,
    keep_for_retry,
    log,
    report_refused,
    where,
)

POOL_SIZE = 4  # the writer holds one connection a batch; reads (budgets at start, /v1/usage) take the others
CONNECT_TIMEOUT = 10.0  # seconds to reach the server; a write that cannot is retried
COMMAND_TIMEOUT = 30.0  # seconds a statement may take: a hung server must not hold flush() or a read forever
CLOSE_TIMEOUT = 10.0
GROUPS = {
    "key": "key_name",
    "model": "COALESCE(model, requested_model)",  # the model that answered, else the one asked for
    "backend": "backend",
    "day": "to_char(to_timestamp(time) AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
}
SUMS = (
    "COUNT(*), COUNT(*) FILTER (WHERE status >= 400), COALESCE(SUM(prompt_tokens), 0)::bigint, "
    "COALESCE(SUM(completion_tokens), 0)::bigint, COALESCE(SUM(reasoning_tokens), 0)::bigint, "
    "COALESCE(SUM(cached_tokens), 0)::bigint, SUM(cost_usd)"  # SUM skips unknown costs; all unknown: NULL
)
# What PostgreSQL refuses in one record (a value out of range or of the wrong type, a constraint it
# breaks), as opposed to the server failing (down, restarting, out of space), which is retried.
REFUSED_RECORD = (
    asyncpg.DataError, asyncpg.IntegrityConstraintViolationError, OverflowError, ValueError, TypeError,
)  # fmt: skip
_STOP = object()


class PostgresStore(UsageStore):
    """Usage records in the PostgreSQL database of the URL `database`."""

    def __init__(self, database: str, *, flush_interval: float = 0.5, batch_size: int = 200) -> None:
        super().__init__(database, flush_interval=flush_interval, batch_size=batch_size)
        self.url = database
        self._items: deque[object] = deque()
        self._arrived = asyncio.Event()  # something is queued
        self._wake = asyncio.Event()  # a full batch, a flush or close: write now
        self._pool: asyncpg.Pool | None = None
        self._writer: asyncio.Task[None] | None = None
        self._closed = False

    async def start(self) -> None:
        if self._writer is not None:
            return
        pool = await self._connect(asyncpg.create_pool, min_size=1, max_size=POOL_SIZE)
        try:
            async with pool.acquire() as conn:
                await postgres_schema.migrate(conn, self.name)
        except BaseException:
            await pool.close()
            raise
        self._pool = pool
        self._writer = asyncio.create_task(self._run(), name="switchyard-usage-writer")

    def record(self, rec: UsageRecord) -> None:
        try:
            if self._closed:
                log.warning("usage store is closed: a record of %s was not kept", rec.requested_model)
                return
            self._items.append(rec)
            self._arrived.set()
            if len(self._items) >= self.batch_size:
                self._wake.set()
        except Exception:  # recording must never break a request
            log.exception("cannot queue a usage record")

    async def flush(self) -> None:
        # Once close() has begun, return at once: close() waits for the writes itself.
        if self._writer is None or self._writer.done() or self._closed:
            return
        barrier: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue(barrier)
        await asyncio.shield(barrier)  # a cancelled flush must not break the barrier for the writer

    async def close(self) -> None:
        if self._closed:
            return
        if self._writer is None:
            if not self._items:
                self._closed = True
                return
            await self.start()
        self._closed = True
        self._queue(_STOP)
        assert self._writer is not None and self._pool is not None
        try:
            await self._writer
        finally:
            pool, self._pool = self._pool, None
            try:
                await asyncio.wait_for(pool.close(), CLOSE_TIMEOUT)
            except TimeoutError:
                pool.terminate()

    def _queue(self, item: object) -> None:
        self._items.append(item)
        self._arrived.set()
        self._wake.set()

    async def _run(self) -> None:
        pending: list[UsageRecord] = []  # records whose write failed, tried again every flush_interval
        try:
            while True:
                if not self._items:
                    self._arrived.clear()
                    if not await _wait(self._arrived, self.flush_interval if pending else None):
                        pending = await self._write(pending)
                        continue
                if isinstance(self._items[0], UsageRecord):
                    await _wait(self._wake, self.flush_interval)  # let the batch gather: one write per batch
                self._wake.clear()
                items, self._items = self._items, deque()
                for item in items:
                    if isinstance(item, UsageRecord):
                        pending.append(item)
                        continue
                    if pending:
                        pending = await self._write(pending)
                    if isinstance(item, asyncio.Future):
                        _release(item)
                    elif item is _STOP:
                        if pending:
                            log.error("usage store: %d records could not be written and are lost", len(pending))
                        return
                if pending:
                    pending = await self._write(pending)
        finally:
            for item in self._items:  # nobody may wait on this writer once it is gone
                if isinstance(item, asyncio.Future):
                    _release(item)

    async def _write(self, batch: list[UsageRecord]) -> list[UsageRecord]:
        """Write `batch` in one statement; what is left to retry (all of it on failure)."""
        try:
            await self._commit(batch)
        except REFUSED_RECORD:  # retrying a batch with a record the server refuses would block every later one
            return await self._write_one_by_one(batch)
        except Exception as exc:
            return keep_for_retry(batch, exc)
        return []

    async def _write_one_by_one(self, batch: list[UsageRecord]) -> list[UsageRecord]:
        refused: list[str] = []
        for index, rec in enumerate(batch):
            try:
                await self._commit([rec])
            except REFUSED_RECORD as exc:
                refused.append(f"{rec.requested_model} ({exc})")
            except Exception as exc:
                batch = keep_for_retry(batch[index:], exc)
                break
        else:
            batch = []
        report_refused(refused)
        return batch

    async def _commit(self, batch: list[UsageRecord]) -> None:
        assert self._pool is not None
        arguments = postgres_schema.insert_arguments([schema.row_of(rec) for rec in batch])
        async with self._pool.acquire() as conn:
            await conn.execute(postgres_schema.INSERT, *arguments)

    async def _summary(self, since: float | None, group_by: str, key_name: str | None) -> Rows:
        clause, params = where(since, key_name, "$")
        # The group is compared bytewise (COLLATE "C") with NULL first, as SQLite does, whatever the
        # database's collation: the rows come in the same order from either store.
        order = "grp" if group_by == "day" else "COALESCE(SUM(cost_usd), -1) DESC, COUNT(*) DESC, grp NULLS FIRST"
        async with self._connection() as conn:
            if conn is None:
                return EMPTY_TOTALS, []
            totals = await conn.fetchrow(f"SELECT {SUMS} FROM requests {clause}", *params)
            rows = await conn.fetch(
                f'SELECT {GROUPS[group_by]} COLLATE "C" AS grp, {SUMS} FROM requests {clause} '
                f"GROUP BY grp ORDER BY {order}",
                *params,
            )
        return tuple(totals), [tuple(row) for row in rows]

    async def key_history(self, key_name: str, since: float | None, recent: int) -> tuple[float, list[float]]:
        clause, params = where(since, key_name, "$")
        async with self._connection() as conn:
            if conn is None:
                return 0.0, []
            spent = await conn.fetchval(f"SELECT COALESCE(SUM(cost_usd), 0) FROM requests {clause}", *params)
            rows = await conn.fetch(
                "SELECT cost_usd FROM requests WHERE key_name = $1 AND cost_usd IS NOT NULL"
                " ORDER BY time DESC, id DESC LIMIT $2",
                key_name, recent,
            )  # fmt: skip
        return float(spent), [row[0] for row in reversed(rows)]

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection | None]:
        """A connection for one read: the pool's, else one of its own. None when the database has
        no usage table yet. Any failure is a UsageDatabaseError that names no password."""
        try:
            if self._pool is not None:
                async with self._pool.acquire() as conn:
                    yield conn
                return
            conn = await self._connect(asyncpg.connect)
            try:
                empty = await postgres_schema.current_version(conn, self.name) == 0
                yield None if empty else conn
            finally:
                await conn.close()
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            raise UsageDatabaseError(f"cannot read: {self._scrubbed(exc)}") from None

    async def _connect(self, open_: Any, **options: Any) -> Any:
        """`asyncpg.connect` or `asyncpg.create_pool` on the URL; a failure is a UsageDatabaseError."""
        try:
            return await open_(self.url, timeout=CONNECT_TIMEOUT, command_timeout=COMMAND_TIMEOUT, **options)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, ValueError) as exc:  # ValueError: a bad URL
            raise UsageDatabaseError(f"cannot connect: {self._scrubbed(exc)}") from None

    def _scrubbed(self, exc: BaseException) -> str:
        """The error on one line, without the URL's password should the driver have echoed it."""
        text = " ".join(str(exc).split()) or type(exc).__name__
        parts = urlsplit(self.url)
        passwords = [unquote(parts.password or "")] + [v for k, v in parse_qsl(parts.query) if k.lower() == "password"]
        for password in filter(None, passwords):
            text = text.replace(password, "***")
        return text


async def _wait(event: asyncio.Event, timeout: float | None) -> bool:
    """Whether `event` was set within `timeout` seconds (None: however long it takes)."""
    try:
        await asyncio.wait_for(event.wait(), timeout)
    except TimeoutError:
        return False
    return True


def _release(barrier: asyncio.Future[None]) -> None:
    if not barrier.done():
        barrier.set_result(None)
