"""The shared store for the workers of one machine (`--workers N` without Redis): a SQLite file in
a folder they share, with the same arithmetic as the Redis script (src.sharing.redis_store), each
sync one transaction. Cooldowns are rows that every worker reads every POLL seconds."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

from src.sharing.store import LIVE_FOR, BudgetGrant, BudgetReport, Cooling, Grants, RateGrant, RateReport, SharedDown

POLL = 0.05  # seconds between two reads of new cooldowns
SCHEMA = """
CREATE TABLE IF NOT EXISTS live (instance TEXT PRIMARY KEY, seen REAL NOT NULL);
CREATE TABLE IF NOT EXISTS spent (key TEXT, period TEXT, amount INTEGER NOT NULL, PRIMARY KEY (key, period));
CREATE TABLE IF NOT EXISTS held (key TEXT, period TEXT, instance TEXT, amount INTEGER NOT NULL,
                                 PRIMARY KEY (key, period, instance));
CREATE TABLE IF NOT EXISTS rate (key TEXT, second INTEGER, instance TEXT, count INTEGER NOT NULL,
                                 PRIMARY KEY (key, second, instance));
CREATE TABLE IF NOT EXISTS cooling (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT, name TEXT, until REAL);
"""


class FileStore:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()  # one connection, used from worker threads one at a time

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False, timeout=1.0)
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.executescript(SCHEMA)
        return self._conn

    async def sync(self, instance: str, budgets: list[BudgetReport], rates: list[RateReport]) -> Grants:
        try:
            return await asyncio.to_thread(self._sync, instance, budgets, rates)
        except sqlite3.Error as exc:
            raise SharedDown(str(exc)) from None

    def _sync(self, instance: str, budgets: list[BudgetReport], rates: list[RateReport]) -> Grants:
        with self._lock:
            return self._synced(self._db(), instance, budgets, rates)

    def _synced(self, db: sqlite3.Connection, instance: str, budgets: list[BudgetReport], rates: list[RateReport]) -> Grants:
        now = time.time()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("INSERT OR REPLACE INTO live VALUES (?, ?)", (instance, now))
            db.execute("DELETE FROM live WHERE seen < ?", (now - LIVE_FOR,))
            db.execute("DELETE FROM held WHERE instance NOT IN (SELECT instance FROM live)")
            grants = Grants(
                budgets=[self._budget(db, instance, report) for report in budgets],
                rates=[self._rate(db, instance, int(now), report) for report in rates],
                instances=db.execute("SELECT COUNT(*) FROM live").fetchone()[0],
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return grants

    @staticmethod
    def _budget(db: sqlite3.Connection, instance: str, b: BudgetReport) -> BudgetGrant:
        db.execute("INSERT INTO spent VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET amount = MAX(amount + ?, ?)",
                   (b.key, b.period, max(b.settled, b.known), b.settled, b.known))  # fmt: skip
        spent = db.execute("SELECT amount FROM spent WHERE key = ? AND period = ?", (b.key, b.period)).fetchone()[0]
        others = db.execute("SELECT TOTAL(amount) FROM held WHERE key = ? AND period = ? AND instance != ?",
                            (b.key, b.period, instance)).fetchone()[0]  # fmt: skip
        lease = b.in_flight + max(0, min(b.want, b.budget - spent - int(others) - b.in_flight))
        db.execute("INSERT OR REPLACE INTO held VALUES (?, ?, ?, ?)", (b.key, b.period, instance, lease))
        return BudgetGrant(lease, spent, int(others))

    @staticmethod
    def _rate(db: sqlite3.Connection, instance: str, second: int, r: RateReport) -> RateGrant:
        if r.unused > 0 and r.granted_at is not None:  # back to the bucket they came from, as in Redis
            db.execute("UPDATE rate SET count = MAX(count - ?, 0) WHERE key = ? AND second = ? AND instance = ?",
                       (r.unused, r.key, r.granted_at, instance))  # fmt: skip
        db.execute("DELETE FROM rate WHERE key = ? AND second <= ?", (r.key, second - 60))
        used = db.execute("SELECT TOTAL(count) FROM rate WHERE key = ?", (r.key,)).fetchone()[0]
        grant = max(0, min(r.want, r.rpm - int(used)))
        if grant:
            db.execute("INSERT INTO rate VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET count = count + ?",
                       (r.key, second, instance, grant, grant))  # fmt: skip
        return RateGrant(grant, second, int(used) + grant)

    async def cool(self, cooling: Cooling) -> None:
        try:
            await asyncio.to_thread(self._cool, cooling)
        except sqlite3.Error as exc:
            raise SharedDown(str(exc)) from None

    def _cool(self, cooling: Cooling) -> None:
        now = time.time()
        with self._lock:
            db = self._db()
            db.execute("INSERT INTO cooling (kind, name, until) VALUES (?, ?, ?)",
                       (cooling.kind, cooling.name, now + cooling.seconds))  # fmt: skip
            db.execute("DELETE FROM cooling WHERE until < ?", (now,))

    async def coolings(self) -> AsyncIterator[Cooling]:
        seen = 0
        try:
            while True:
                rows = await asyncio.to_thread(self._since, seen)
                now = time.time()
                for seq, kind, name, until in rows:
                    seen = max(seen, seq)
                    if until > now:
                        yield Cooling(kind, name, until - now)
                await asyncio.sleep(POLL)
        except sqlite3.Error as exc:
            raise SharedDown(str(exc)) from None

    def _since(self, seen: int) -> list[tuple[int, str, str, float]]:
        with self._lock:
            return self._db().execute("SELECT seq, kind, name, until FROM cooling WHERE seq > ?", (seen,)).fetchall()

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
