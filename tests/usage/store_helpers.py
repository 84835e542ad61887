"""Shared by the usage store tests: what the SQLite file holds, read on a connection of its own."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def rows(path: Path, sql: str = "SELECT * FROM requests ORDER BY id") -> list[sqlite3.Row]:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def written(path: Path) -> int:
    """Records in the database so far (the writer thread commits them; WAL lets this read alongside)."""
    if not path.exists():
        return 0
    return rows(path, "SELECT COUNT(*) FROM requests")[0][0]
