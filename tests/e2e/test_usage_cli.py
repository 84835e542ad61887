"""`python -m src.core.cli usage`: the database the proxy wrote, as a table or JSON, by group and since."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from src.usage.store import open_store
from tests.e2e.usage_helpers import (
    ADMIN_KEY,
    BOB_KEY,
    PricedUpstream,
    chat,
    priced_server_fixture,  # noqa: F401
    run_cli,
    usage_config,
    write_cli_config,
)
from tests.fakes.proxy import RunningProxy
from tests.fakes.scripted import Step


def cli_config(database: str | None) -> dict[str, Any]:
    backend = {"type": "openrouter", "api_key": "sk-or-v1-cli-test-0001", "base_url": "http://127.0.0.1:9/v1"}
    return {"usage": {"database": database}, "backends": {"openrouter": backend}}


@pytest.fixture(scope="module")
def workdir(priced_server: PricedUpstream, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding u.db, as a stopped proxy left it, and switchyard.yaml pointing at it:
    alice: vendor/a twice (one a 400) and vendor/b (stream); bob: vendor/a. 10 + 4 tokens, $0.0001 a success."""
    priced_server.reset()
    directory = tmp_path_factory.mktemp("cli")
    proxy = RunningProxy(usage_config(priced_server.base_url, directory / "u.db")).start()
    try:
        priced_server.script("vendor/a", Step(), Step(status=400))
        assert [chat(proxy, "vendor/a").status_code, chat(proxy, "vendor/a").status_code] == [200, 400]
        assert chat(proxy, "vendor/b", stream=True).status_code == 200
        assert chat(proxy, "vendor/a", key=BOB_KEY).status_code == 200
        assert chat(proxy, "vendor/c", key=ADMIN_KEY).status_code == 200
    finally:
        proxy.stop()
    write_cli_config(directory, cli_config("./u.db"))
    return directory


def cli(workdir: Path, *args: str) -> str:
    result = run_cli(["usage", "--config", "switchyard.yaml", *args], workdir)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_table_shows_requests_tokens_cost_and_error_rate(workdir: Path) -> None:
    lines = cli(workdir).splitlines()
    assert lines[0].startswith("usage since ") and lines[1] == ""
    assert lines[2].split() == ["MODEL", "REQUESTS", "IN", "TOKENS", "OUT", "TOKENS", "COST", "ERRORS"]
    assert [line.split() for line in lines[3:6]] == [
        ["vendor/a", "3", "20", "8", "$0.0002", "33.3%"],
        ["vendor/b", "1", "10", "4", "$0.0001", "0.0%"],
        ["vendor/c", "1", "10", "4", "$0.0001", "0.0%"],
    ]
    assert set(lines[6]) == {"-", " "}
    assert lines[7].split() == ["total", "5", "40", "16", "$0.0004", "20.0%"]


def test_json_is_the_databases_summary(workdir: Path) -> None:
    printed = json.loads(cli(workdir, "--json", "--by", "key"))
    stored = asyncio.run(open_store(workdir / "u.db").summary(None, "key"))
    assert printed["group_by"] == "key" and printed["since"].endswith("Z")
    assert printed["rows"] == stored["rows"] and printed["totals"] == stored["totals"]
    assert [(row["group"], row["requests"], row["errors"]) for row in printed["rows"]] == [
        ("alice", 3, 1), ("bob", 1, 0), ("root", 1, 0)]


def test_grouped_by_backend_and_by_day(workdir: Path) -> None:
    backend = cli(workdir, "--by", "backend").splitlines()
    assert backend[2].split()[0] == "BACKEND" and backend[3].split()[:2] == ["openrouter", "5"]
    day = cli(workdir, "--by", "day", "--since", "2d").splitlines()
    assert day[3].split()[:2] == [datetime.now(UTC).strftime("%Y-%m-%d"), "5"]


def test_since_an_iso_time_to_come_there_is_nothing(workdir: Path) -> None:
    later = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert cli(workdir, "--since", later).strip() == f"usage since {later}: no requests"


def test_config_yaml_in_the_working_directory_is_the_default(workdir: Path, tmp_path: Path) -> None:
    (tmp_path / "u.db").write_bytes((workdir / "u.db").read_bytes())
    write_cli_config(tmp_path, cli_config("./u.db")).rename(tmp_path / "config.yaml")
    result = run_cli(["usage", "--json"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["totals"]["requests"] == 5


@pytest.mark.parametrize(
    ("database", "args", "message"),
    [(None, [], "usage recording is off"), ("./u.db", ["--since", "last week"], "--since")],
)
def test_a_usage_that_cannot_be_reported_exits_2(
    tmp_path: Path, database: str | None, args: list[str], message: str
) -> None:
    write_cli_config(tmp_path, cli_config(database))
    result = run_cli(["usage", "--config", "switchyard.yaml", *args], tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert message in result.stderr
    assert not (tmp_path / "u.db").exists()
