"""The usage store: records go to SQLite in batches on a writer thread, off the event loop.

`record()` only puts the record on a queue, so recording never slows a request. A writer
thread owns the write connection and commits a batch when `batch_size` records are waiting
or `flush_interval` seconds after the first of them, whichever comes first; `close()` writes
everything still queued. A batch that fails to commit (disk full, database locked) is kept
and tried again. Reads (`summary`, `spent`) are synchronous, each on its own connection (WAL
lets them run beside the writer): from async code, call them in `asyncio.to_thread`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import sqlite3
import threading
from contextlib import closing
from os import PathLike
from typing import Any

from src.usage import schema
from src.usage.record import UsageRecord
from src.usage.since import iso_utc

log = logging.getLogger("switchyard.usage")
DEFAULT_PATH = "./switchyard.db"
MAX_PENDING = 100_000  # records kept for a retry while the database cannot be written; older ones are dropped
GROUPS = {
    "key": "key_name",
    "model": "COALESCE(model, requested_model)",  # the model that answered, else the one asked for
    "backend": "backend",
    "day": "strftime('%Y-%m-%d', time, 'unixepoch')",  # UTC
}
_SUMS = (
    "COUNT(*), COALESCE(SUM(status >= 400), 0), COALESCE(SUM(prompt_tokens), 0), "
    "COALESCE(SUM(completion_tokens), 0), COALESCE(SUM(reasoning_tokens), 0), "
    "COALESCE(SUM(cached_tokens), 0), SUM(cost_usd)"  # SUM skips unknown costs; all unknown: NULL
)
FIELDS = ("requests", "errors", "prompt_tokens", "completion_tokens", "reasoning_tokens", "cached_tokens", "cost_usd")
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


class UsageStore:
    """Usage records in the SQLite database at `path`; `path=None` is a disabled store that keeps nothing."""

    def __init__(self, path: str | PathLike[str] | None, *, flush_interval: float = 0.5, batch_size: int = 200) -> None:
        self.path = path
        self.flush_interval = flush_interval
        self.batch_size = batch_size
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._wake = threading.Event()  # a full batch, a flush or close: write now

    @property
    def enabled(self) -> bool:
        return self.path is not None

    async def start(self) -> None:
        """Open (creating or migrating) the database and start the writer; raises SchemaError or sqlite3.Error."""
        if self.path is None or self._thread is not None:
            return
        conn = await asyncio.to_thread(schema.connect, self.path)
        self._thread = threading.Thread(target=self._run, args=(conn,), name="switchyard-usage-writer", daemon=True)
        self._thread.start()

    def record(self, rec: UsageRecord) -> None:
        """Queue `rec` for writing. O(1), never blocks and never raises."""
        if self.path is None:
            return
        try:
            if self._closed:
                log.warning("usage store is closed: a record of %s was not kept", rec.requested_model)
                return
            self._queue.put_nowait(rec)
            if self._queue.qsize() >= self.batch_size:
                self._wake.set()
        except Exception:  # recording must never break a request
            log.exception("cannot queue a usage record")

    async def flush(self) -> None:
        """Wait until every record queued so far has been written (or its write has failed).
        Once close() has begun, return at once: close() waits for the writes itself, and a barrier
        queued behind the writer's stop would never be reached."""
        if self._thread is None or not self._thread.is_alive() or self._closed:
            return
        barrier = _Barrier()
        self._queue.put_nowait(barrier)
        self._wake.set()
        await asyncio.to_thread(barrier.done.wait)

    async def close(self) -> None:
        """Write everything still queued, then stop the writer. Later records are not kept."""
        if self.path is None or self._closed:
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
            return self._keep_for_retry(batch, exc)
        return []

    def _write_one_by_one(self, conn: sqlite3.Connection, batch: list[UsageRecord]) -> list[UsageRecord]:
        refused: list[str] = []
        for index, rec in enumerate(batch):
            try:
                self._commit(conn, [rec])
            except REFUSED_RECORD as exc:
                refused.append(f"{rec.requested_model} ({exc})")
            except Exception as exc:
                batch = self._keep_for_retry(batch[index:], exc)
                break
        else:
            batch = []
        if refused:
            log.error("usage store: %d records cannot be written and are dropped: %s", len(refused), "; ".join(refused))
        return batch

    def _keep_for_retry(self, batch: list[UsageRecord], exc: Exception) -> list[UsageRecord]:
        log.warning("usage store: cannot write %d records, will retry: %s", len(batch), exc)
        if len(batch) > MAX_PENDING:
            log.error("usage store: dropping the %d oldest unwritten records", len(batch) - MAX_PENDING)
            return batch[-MAX_PENDING:]
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

    def summary(self, since: float | None, group_by: str, key_name: str | None = None) -> dict[str, Any]:
        """Totals and one row per group (key, model, backend or UTC day) of the requests since `since`.

        `key_name` restricts it to one proxy key (None: every key). Errors are statuses >= 400;
        cost is the sum of the known costs, None when none is known.
        """
        if group_by not in GROUPS:
            raise ValueError(f"unknown group_by {group_by!r} (expected one of: {', '.join(GROUPS)})")
        where, params = _where(since, key_name)
        totals: tuple[Any, ...] = (0, 0, 0, 0, 0, 0, None)
        rows: list[tuple[Any, ...]] = []
        conn = self._reader()
        if conn is not None:
            with closing(conn):
                totals = conn.execute(f"SELECT {_SUMS} FROM requests {where}", params).fetchone()
                order = "grp" if group_by == "day" else "COALESCE(SUM(cost_usd), -1) DESC, COUNT(*) DESC, grp"
                rows = conn.execute(
                    f"SELECT {GROUPS[group_by]} AS grp, {_SUMS} FROM requests {where} GROUP BY grp ORDER BY {order}",
                    params,
                ).fetchall()
        return {
            "since": None if since is None else iso_utc(since),
            "group_by": group_by,
            "totals": dict(zip(FIELDS, totals, strict=True)),
            "rows": [{"group": row[0], **dict(zip(FIELDS, row[1:], strict=True))} for row in rows],
        }

    def key_history(self, key_name: str, since: float | None, recent: int) -> tuple[float, list[float]]:
        """`key_name`'s known spend in USD since `since` (None: ever), and its last `recent` known costs, oldest first."""
        conn = self._reader()
        if conn is None:
            return 0.0, []
        where, params = _where(since, key_name)
        with closing(conn):
            spent = float(conn.execute(f"SELECT TOTAL(cost_usd) FROM requests {where}", params).fetchone()[0])
            rows = conn.execute(
                "SELECT cost_usd FROM requests WHERE key_name = ? AND cost_usd IS NOT NULL ORDER BY time DESC LIMIT ?",
                (key_name, recent),
            ).fetchall()
        return spent, [row[0] for row in reversed(rows)]

    def _reader(self) -> sqlite3.Connection | None:
        """A connection for one read; None when there is nothing to read yet (disabled, or no file)."""
        if self.path is None or not os.path.exists(self.path):
            return None
        return schema.connect(self.path)


def _where(since: float | None, key_name: str | None) -> tuple[str, list[object]]:
    clauses, params = [], []
    if since is not None:
        clauses.append("time >= ?")
        params.append(since)
    if key_name is not None:
        clauses.append("key_name = ?")
        params.append(key_name)
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), params

