"""The SQLite usage store: records go to a file in batches on a writer thread, off the event loop.

A writer thread owns the write connection and commits each batch in one transaction. Reads run
in `asyncio.to_thread`, each on its own connection (WAL lets them run beside the writer).
"""

from __future__ import annotations

import asyncio
import os
import queue
import sqlite3
import threading
from contextlib import closing
from os import PathLike
from typing import Any

from src.usage import schema
from src.usage.record import UsageRecord
from src.usage.stores.base import (
    EMPTY_TOTALS,
    Rows,
    UsageStore,
    keep_for_retry,
    log,
    report_refused,
    where,
)

GROUPS = {
    "key": "key_name",
    "model": "COALESCE(model, requested_model)",  # the model that answered, else the one asked for
    "backend": "backend",
    "day": "strftime('%Y-%m-%d', time, 'unixepoch')",  # UTC
}
SUMS = (
    "COUNT(*), COALESCE(SUM(status >= 400), 0), COALESCE(SUM(prompt_tokens), 0), "
    "COALESCE(SUM(completion_tokens), 0), COALESCE(SUM(reasoning_tokens), 0), "
    "COALESCE(SUM(cached_tokens), 0), SUM(cost_usd)"  # SUM skips unknown costs; all unknown: NULL
)
_STOP = object()
# What SQLite raises for one record it cannot take (an integer past 64 bits, a value of the wrong
# type), as opposed to the database itself failing (locked, full, corrupt), which is retried.
REFUSED_RECORD = (
    sqlite3.IntegrityError, sqlite3.DataError, sqlite3.InterfaceError, sqlite3.ProgrammingError,  # a type it cannot bind
    OverflowError, ValueError, TypeError,
)  # fmt: skip


class _Barrier:
    """Put on the queue by `flush()`: set once everything queued before it has been written."""

    def __init__(self) -> None:
        self.done = threading.Event()


class SqliteStore(UsageStore):
    """Usage records in the SQLite file `database` (a path)."""

    def __init__(self, database: str | PathLike[str], *, flush_interval: float = 0.5, batch_size: int = 200) -> None:
        super().__init__(database, flush_interval=flush_interval, batch_size=batch_size)
        self.path = database
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._wake = threading.Event()  # a full batch, a flush or close: write now

    async def start(self) -> None:
        if self._thread is not None:
            return
        conn = await asyncio.to_thread(schema.connect, self.path)
        self._thread = threading.Thread(target=self._run, args=(conn,), name="switchyard-usage-writer", daemon=True)
        self._thread.start()

    def record(self, rec: UsageRecord) -> None:
        try:
            if self._closed:
                log.warning("usage store is closed: a record of %s was not kept", rec.requested_model)
                return
            self._queue.put_nowait(rec)
            if self._queue.qsize() >= self.batch_size and not self._wake.is_set():
                self._wake.set()  # under load the queue stays full: set() takes a lock, is_set() does not
        except Exception:  # recording must never break a request
            log.exception("cannot queue a usage record")

    async def flush(self) -> None:
        # Once close() has begun, return at once: close() waits for the writes itself, and a barrier
        # queued behind the writer's stop would never be reached.
        if self._thread is None or not self._thread.is_alive() or self._closed:
            return
        barrier = _Barrier()
        self._queue.put_nowait(barrier)
        self._wake.set()
        await asyncio.to_thread(barrier.done.wait)

    async def close(self) -> None:
        if self._closed:
            return
        if self._thread is None:
            if self._queue.empty():
                self._closed = True
                return
            await self.start()
        self._closed = True
        self._queue.put_nowait(_STOP)
        self._wake.set()
        assert self._thread is not None
        await asyncio.to_thread(self._thread.join)

    def _run(self, conn: sqlite3.Connection) -> None:
        pending: list[UsageRecord] = []  # records whose write failed, tried again every flush_interval
        try:
            while True:
                try:
                    first = self._queue.get(timeout=self.flush_interval if pending else None)
                except queue.Empty:
                    pending = self._write(conn, pending)
                    continue
                if isinstance(first, UsageRecord):
                    # Let the batch gather: one wake-up per batch rather than per record keeps
                    # this thread from contending for the GIL with the event loop on every request.
                    self._wake.wait(self.flush_interval)
                self._wake.clear()
                for item in self._drain(first):
                    if isinstance(item, UsageRecord):
                        pending.append(item)
                        continue
                    if pending:
                        pending = self._write(conn, pending)
                    if isinstance(item, _Barrier):
                        item.done.set()
                    elif item is _STOP:
                        if pending:
                            log.error("usage store: %d records could not be written and are lost", len(pending))
                        return
                if pending:
                    pending = self._write(conn, pending)
        finally:
            conn.close()
            for item in self._drain(None):  # nobody may wait on this writer once it is gone
                if isinstance(item, _Barrier):
                    item.done.set()

    def _drain(self, first: object) -> list[object]:
        items = [first]
        try:
            while True:
                items.append(self._queue.get_nowait())
        except queue.Empty:
            return items

    def _write(self, conn: sqlite3.Connection, batch: list[UsageRecord]) -> list[UsageRecord]:
        """Commit `batch` in one transaction; what is left to retry (all of it on failure)."""
        try:
            self._commit(conn, batch)
        except REFUSED_RECORD:  # retrying a batch with a record SQLite refuses would block every later one
            return self._write_one_by_one(conn, batch)
        except Exception as exc:
            return keep_for_retry(batch, exc)
        return []

    def _write_one_by_one(self, conn: sqlite3.Connection, batch: list[UsageRecord]) -> list[UsageRecord]:
        refused: list[str] = []
        for index, rec in enumerate(batch):
            try:
                self._commit(conn, [rec])
            except REFUSED_RECORD as exc:
                refused.append(f"{rec.requested_model} ({exc})")
            except Exception as exc:
                batch = keep_for_retry(batch[index:], exc)
                break
        else:
            batch = []
        report_refused(refused)
        return batch

    def _commit(self, conn: sqlite3.Connection, batch: list[UsageRecord]) -> None:
        rows = [schema.row_of(rec) for rec in batch]
        conn.execute("BEGIN")
        try:
            for sql, values in schema.insert_statements(rows):
                conn.execute(sql, values)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    async def _summary(self, since: float | None, group_by: str, key_name: str | None) -> Rows:
        return await asyncio.to_thread(self._read_summary, since, group_by, key_name)

    def _read_summary(self, since: float | None, group_by: str, key_name: str | None) -> Rows:
        conn = self._reader()
        if conn is None:
            return EMPTY_TOTALS, []
        clause, params = where(since, key_name)
        # SQLite compares text bytewise and sorts NULL first: PostgreSQL is told to do the same.
        order = "grp" if group_by == "day" else "COALESCE(SUM(cost_usd), -1) DESC, COUNT(*) DESC, grp"
        with closing(conn):
            totals = conn.execute(f"SELECT {SUMS} FROM requests {clause}", params).fetchone()
            rows = conn.execute(
                f"SELECT {GROUPS[group_by]} AS grp, {SUMS} FROM requests {clause} GROUP BY grp ORDER BY {order}",
                params,
            ).fetchall()
        return totals, rows

    async def key_history(self, key_name: str, since: float | None, recent: int) -> tuple[float, list[float]]:
        return await asyncio.to_thread(self._read_key_history, key_name, since, recent)

    def _read_key_history(self, key_name: str, since: float | None, recent: int) -> tuple[float, list[float]]:
        conn = self._reader()
        if conn is None:
            return 0.0, []
        clause, params = where(since, key_name)
        with closing(conn):
            spent = float(conn.execute(f"SELECT TOTAL(cost_usd) FROM requests {clause}", params).fetchone()[0])
            rows: list[Any] = conn.execute(
                "SELECT cost_usd FROM requests WHERE key_name = ? AND cost_usd IS NOT NULL"
                " ORDER BY time DESC, id DESC LIMIT ?",
                (key_name, recent),
            ).fetchall()
        return spent, [row[0] for row in reversed(rows)]

    def _reader(self) -> sqlite3.Connection | None:
        """A connection for one read; None when there is nothing to read yet (no file)."""
        if not os.path.exists(self.path):
            return None
        return schema.connect(self.path)
