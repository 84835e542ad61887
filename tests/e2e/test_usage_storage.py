"""The usage database: where it is, that it can be turned off, batched writes, nothing lost on shutdown."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from src.config import Config
from tests.e2e.usage_helpers import (
    MESSAGES,
    PricedUpstream,
    auth,
    chat,
    db_rows,
    get_usage,
    priced_fixture,  # noqa: F401
    priced_server_fixture,  # noqa: F401
    usage_config,
    wait_rows,
)
from tests.fakes.proxy import RunningProxy

Start = Callable[[Config], RunningProxy]


def test_a_null_database_records_nothing_and_creates_no_file(
    priced: PricedUpstream, start_proxy: Start, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    proxy = start_proxy(usage_config(priced.base_url, None))
    assert chat(proxy, "vendor/m").status_code == 200
    assert chat(proxy, "vendor/m", stream=True).status_code == 200
    response = get_usage(proxy)
    assert response.status_code == 404
    assert "usage.database" in response.json()["error"]["message"]
    proxy.stop()
    assert list(tmp_path.iterdir()) == []


def test_by_default_usage_goes_to_switchyard_db_in_the_working_directory(
    priced: PricedUpstream, start_proxy: Start, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    proxy = start_proxy(usage_config(priced.base_url, None, usage={}))
    assert chat(proxy, "vendor/m").status_code == 200
    assert wait_rows(proxy, tmp_path / "switchyard.db", 1)[0]["requested_model"] == "vendor/m"


def test_two_hundred_requests_are_all_in_the_database_once_the_proxy_has_stopped(
    priced: PricedUpstream, start_proxy: Start, tmp_path: Path
) -> None:
    proxy = start_proxy(usage_config(priced.base_url, tmp_path / "u.db"))

    def send(number: int) -> int:
        body = {"model": f"vendor/m{number % 5}", "messages": MESSAGES, "stream": number % 2 == 0}
        return client.post(f"{proxy.url}/v1/chat/completions", json=body, headers=auth()).status_code

    with httpx.Client(timeout=10) as client, ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(send, range(200)))
    assert statuses == [200] * 200
    proxy.stop()  # a clean shutdown writes every queued record; no /v1/usage flush here

    rows = db_rows(tmp_path / "u.db")
    assert len(rows) == 200
    assert sum(row["stream"] for row in rows) == 100
    assert {row["requested_model"] for row in rows} == {f"vendor/m{i}" for i in range(5)}
    assert all(row["status"] == 200 and row["cost_usd"] == 0.0001 for row in rows)


def test_records_are_written_in_batches_after_the_answer(
    priced: PricedUpstream, start_proxy: Start, tmp_path: Path
) -> None:
    proxy = start_proxy(usage_config(priced.base_url, tmp_path / "u.db"))
    assert chat(proxy, "vendor/m").status_code == 200
    # The answer is out; its record waits for a batch (the store commits every 0.5 s or 200 records).
    assert db_rows(tmp_path / "u.db") == []
    assert len(wait_rows(proxy, tmp_path / "u.db", 1)) == 1  # GET /v1/usage flushes first


def test_the_schema_is_versioned_and_a_restart_keeps_the_records(
    priced: PricedUpstream, start_proxy: Start, tmp_path: Path
) -> None:
    db = tmp_path / "u.db"
    first = start_proxy(usage_config(priced.base_url, db))
    assert chat(first, "vendor/a").status_code == 200
    first.stop()
    with sqlite3.connect(db) as conn:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    assert version > 0

    second = start_proxy(usage_config(priced.base_url, db))
    assert chat(second, "vendor/b").status_code == 200
    rows = wait_rows(second, db, 2)
    assert [row["requested_model"] for row in rows] == ["vendor/a", "vendor/b"]
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == version
