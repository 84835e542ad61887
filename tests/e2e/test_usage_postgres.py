"""Usage in PostgreSQL (README "Usage, cost and budgets"), with the real app: `usage.database` set to a
`postgresql://` URL records every request there, `GET /v1/usage` and `switchyard usage` read it back,
and a budget loads its spend from it after a restart. The server is the session's own
(tests/fakes/postgres.py); each test has an empty database of its own on it."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from src.config import Config
from tests.e2e.usage_helpers import (
    ADMIN,
    ADMIN_KEY,
    BOB,
    BOB_KEY,
    PricedUpstream,
    chat,
    get_usage,
    priced_fixture,  # noqa: F401
    priced_server_fixture,  # noqa: F401
    run_cli,
    usage_config,
    write_cli_config,
)
from tests.fakes.postgres import PASSWORD, free_port, fresh_database, query
from tests.fakes.proxy import PROXY_KEY, RunningProxy
from tests.fakes.scripted import Step, completion

Start = Callable[[Config], RunningProxy]
ALICE = {"name": "alice", "key": PROXY_KEY}


@pytest.fixture
def database(postgres_url: str) -> str:
    return fresh_database(postgres_url)


def config(priced: PricedUpstream, database: str, alice: dict[str, Any] = ALICE) -> Config:
    return usage_config(priced.base_url, None, keys=[alice, ADMIN, BOB], usage={"database": database})


def db_rows(database: str) -> list[dict[str, Any]]:
    if not query(database, "SELECT to_regclass('requests') IS NOT NULL AS t")[0]["t"]:
        return []
    rows = query(database, "SELECT * FROM requests ORDER BY id")
    for row in rows:
        row["attempts"] = orjson.loads(row["attempts"])
    return rows


def wait_rows(proxy: RunningProxy, database: str, count: int, seconds: float = 5.0) -> list[dict[str, Any]]:
    """The rows once there are `count` of them; each look asks `GET /v1/usage` to flush first."""
    deadline = time.monotonic() + seconds
    while True:
        assert get_usage(proxy, ADMIN_KEY).status_code == 200
        rows = db_rows(database)
        if len(rows) >= count or time.monotonic() > deadline:
            assert len(rows) == count, rows
            return rows
        time.sleep(0.02)


def cli_usage(directory: Path, database: str, *args: str) -> Any:
    backend = {"type": "openrouter", "api_key": "sk-or-v1-cli-test-0001", "base_url": "http://127.0.0.1:9/v1"}
    write_cli_config(directory, {"usage": {"database": database}, "backends": {"openrouter": backend}})
    return run_cli(["usage", "--config", "switchyard.yaml", *args], directory)


def test_records_go_to_postgresql_and_both_readers_see_them(
    priced: PricedUpstream, start_proxy: Start, database: str, tmp_path: Path
) -> None:
    priced.script("vendor/a", Step(), Step(status=400))
    proxy = start_proxy(config(priced, database))
    assert [chat(proxy, "vendor/a").status_code, chat(proxy, "vendor/a").status_code] == [200, 400]
    assert chat(proxy, "vendor/b", stream=True).status_code == 200
    assert chat(proxy, "vendor/a", key=BOB_KEY).status_code == 200

    rows = wait_rows(proxy, database, 4)
    assert [(r["key_name"], r["requested_model"], r["status"], r["stream"]) for r in rows] == [
        ("alice", "vendor/a", 200, 0), ("alice", "vendor/a", 400, 0), ("alice", "vendor/b", 200, 1),
        ("bob", "vendor/a", 200, 0)]  # fmt: skip
    assert all(re.fullmatch(r"[0-9a-f]{32}", r["request_id"]) for r in rows)
    assert len({r["request_id"] for r in rows}) == 4  # one id per request
    assert rows[0]["attempts"][0]["route"] == "openrouter:vendor/a" and rows[0]["route"] == "openrouter:vendor/a"
    assert rows[0]["cost_usd"] == pytest.approx(0.0001) and abs(rows[0]["time"] - time.time()) < 60

    served = get_usage(proxy, ADMIN_KEY, group_by="key").json()
    assert served["key"] == "*" and served["totals"]["requests"] == 4 and served["totals"]["errors"] == 1
    assert [(r["group"], r["requests"]) for r in served["rows"]] == [("alice", 3), ("bob", 1)]
    own = get_usage(proxy, PROXY_KEY, group_by="model").json()
    assert own["key"] == "alice" and [(r["group"], r["requests"]) for r in own["rows"]] == [
        ("vendor/a", 2), ("vendor/b", 1)]  # fmt: skip
    proxy.stop()

    printed = cli_usage(tmp_path, database, "--json", "--by", "key", "--since", "1d")
    assert printed.returncode == 0, printed.stderr
    summary = json.loads(printed.stdout)
    assert summary["rows"] == served["rows"] and summary["totals"] == served["totals"]
    table = cli_usage(tmp_path, database).stdout.splitlines()
    assert [line.split()[:2] for line in table[3:5]] == [["vendor/a", "3"], ["vendor/b", "1"]]
    assert PASSWORD not in printed.stdout + printed.stderr


def test_a_budget_loads_its_spend_from_postgresql_after_a_restart(
    priced: PricedUpstream, start_proxy: Start, database: str
) -> None:
    usage = {"prompt_tokens": 10, "completion_tokens": 4, "cost": 0.25}
    priced.script("vendor/m", *(Step(completion=completion("vendor/m", usage=usage)) for _ in range(3)))
    alice = {**ALICE, "budget_usd": 0.6, "budget_period": "monthly"}
    first = start_proxy(config(priced, database, alice))
    assert [chat(first, "vendor/m").status_code for _ in range(2)] == [200, 200]
    first.stop()  # its last records are written as it stops
    assert len(db_rows(database)) == 2

    second = start_proxy(config(priced, database, alice))
    assert chat(second, "vendor/m").status_code == 200  # $0.50 of $0.60 spent: admitted
    wait_rows(second, database, 3)
    refused = chat(second, "vendor/m")
    assert refused.status_code == 429 and "$0.75 spent" in refused.json()["error"]["message"]
    second.stop()

    third = start_proxy(config(priced, database, alice))  # never a request of its own: all it knows is loaded
    refused = chat(third, "vendor/m")
    assert refused.status_code == 429 and "$0.75 spent" in refused.json()["error"]["message"]


@pytest.mark.parametrize("problem", ["unreachable", "wrong password"])
def test_the_usage_command_reports_a_database_it_cannot_use_in_one_line_without_the_password(
    database: str, tmp_path: Path, problem: str
) -> None:
    if problem == "unreachable":
        url, cause = f"postgresql://switchyard:{PASSWORD}@127.0.0.1:{free_port()}/usage", "cannot connect"
    else:
        url, cause = database.replace(PASSWORD, "not-the-password-77"), "password authentication failed"
    result = cli_usage(tmp_path, url)
    assert result.returncode == 2 and result.stdout == ""
    [line] = result.stderr.splitlines()
    shown = re.sub(r":[^:@/]+@", ":***@", url)
    assert line.startswith(f"switchyard: usage database {shown}: ") and cause in line
    assert PASSWORD not in line and "not-the-password-77" not in line
