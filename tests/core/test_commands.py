"""The `usage` and `models` commands, run in-process (src/core/commands.py) on a database or fake backends."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from src.core import commands
from src.core.cli import main
from src.usage.store import open_store
from tests.fakes.upstream import FakeUpstream
from tests.usage.record_helpers import make_record

DAY = 86400.0


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, cwd: Path) -> None:
    for name in ("OPENROUTER_API_KEY", "SWITCHYARD_CONFIG", "SWITCHYARD_API_KEY", "SWITCHYARD_DEFAULT_BACKEND"):
        monkeypatch.delenv(name, raising=False)


def write_config(directory: Path, **content: Any) -> str:
    raw = {"backends": {"openrouter": {"type": "openrouter", "api_key": "sk-or-v1-commands-01"}}, **content}
    path = directory / "c.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return str(path)


def fill(db: Path) -> None:
    now = time.time()
    store = open_store(db)

    async def write() -> None:
        await store.start()
        store.record(make_record(time=now - 60, key_name="alice", cost_usd=0.5))
        store.record(make_record(time=now - 120, key_name="bob", route="local:llama3", status=500, cost_usd=None,
                                 prompt_tokens=None, completion_tokens=None))
        store.record(make_record(time=now - 3 * DAY, key_name="alice", cost_usd=0.25))
        store.record(make_record(time=now - 10 * DAY, key_name="carol", cost_usd=9.0))  # before the default 7d
        await store.close()

    asyncio.run(write())


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_usage_defaults_to_the_last_7_days_by_model(cwd: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fill(cwd / "u.db")
    summary = run_json(capsys, "usage", "--config", write_config(cwd, usage={"database": str(cwd / "u.db")}), "--json")
    assert summary["group_by"] == "model"
    assert summary["totals"]["requests"] == 3 and summary["totals"]["errors"] == 1
    assert summary["totals"]["cost_usd"] == pytest.approx(0.75)
    assert [(r["group"], r["requests"]) for r in summary["rows"]] == [("openai/gpt-4o", 2), ("llama3", 1)]


@pytest.mark.parametrize(
    ("args", "groups"),
    [
        (["--by", "key"], [("alice", 2), ("bob", 1)]),
        (["--by", "key", "--since", "30d"], [("carol", 1), ("alice", 2), ("bob", 1)]),
        (["--by", "backend", "--since", "1d"], [("openrouter", 1), ("local", 1)]),
        (["--by", "key", "--since", "2000-01-01"], [("carol", 1), ("alice", 2), ("bob", 1)]),
    ],
)
def test_usage_groups_and_windows(cwd: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                                  groups: list[tuple[str, int]]) -> None:
    fill(cwd / "u.db")
    config = write_config(cwd, usage={"database": str(cwd / "u.db")})
    summary = run_json(capsys, "usage", "--config", config, "--json", *args)
    assert [(r["group"], r["requests"]) for r in summary["rows"]] == groups


def test_usage_table_shows_the_error_rate(cwd: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fill(cwd / "u.db")
    assert main(["usage", "--config", write_config(cwd, usage={"database": str(cwd / "u.db")}), "--by", "key"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split() for line in lines[3:5]] == [["alice", "2", "20", "10", "$0.75", "0.0%"],
                                                     ["bob", "1", "0", "0", "-", "100.0%"]]
    assert lines[-1].split() == ["total", "3", "20", "10", "$0.75", "33.3%"]


def test_usage_of_a_database_not_written_yet_has_no_requests(cwd: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["usage", "--config", write_config(cwd, usage={"database": str(cwd / "none.db")})]) == 0
    assert capsys.readouterr().out.strip().endswith(": no requests")
    assert not (cwd / "none.db").exists()


def test_a_bad_config_is_a_one_line_error(cwd: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["usage", "--config", write_config(cwd, usage={"database": "x.db", "colour": "red"})]) == 2
    err = capsys.readouterr().err
    assert err.startswith("switchyard: config error: ") and "usage" in err and len(err.splitlines()) == 1


def test_a_file_that_is_no_usage_database_is_a_one_line_error(cwd: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (cwd / "notes.db").write_text("these are my notes, not a database\n" * 100, encoding="utf-8")
    assert main(["usage", "--config", write_config(cwd, usage={"database": str(cwd / "notes.db")})]) == 2
    assert capsys.readouterr().err.startswith("switchyard: ")


# --- models ------------------------------------------------------------------------------------------------


def models(capsys: pytest.CaptureFixture[str], cwd: Path, backends: dict[str, Any], *args: str) -> list[tuple[str, str]]:
    path = cwd / "m.yaml"
    path.write_text(yaml.safe_dump({"default_backend": next(iter(backends)), "backends": backends}, sort_keys=False))
    assert commands.run(["models", "--config", str(path), "--json", *args]) == 0
    return [(row["backend"], row["id"]) for row in json.loads(capsys.readouterr().out)]


def backend(url: str, kind: str = "openrouter") -> dict[str, Any]:
    return {"type": kind, "base_url": url, **({"api_key": "sk-or-v1-commands-01"} if kind == "openrouter" else {})}


@pytest.mark.parametrize(
    ("args", "ids"),
    [
        (["--provider", "QWEN"], ["qwen/qwen3-coder:free"]),
        (["--provider", "openrouter"], ["openai/gpt-4o", "qwen/qwen3-coder:free"]),  # a backend's name
        (["--provider", "openrouter", "--free"], ["qwen/qwen3-coder:free"]),
        (["--search", "gpt-4O"], ["openai/gpt-4o"]),
        (["--search", "coder (free)"], ["qwen/qwen3-coder:free"]),  # names are searched too
        (["--free", "--provider", "qwen", "--search", "qwen3"], ["qwen/qwen3-coder:free"]),
        (["--tools", "--provider", "qwen"], []),
    ],
)
def test_models_filters(upstream: FakeUpstream, cwd: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                        ids: list[str]) -> None:
    assert [i for _, i in models(capsys, cwd, {"openrouter": backend(upstream.base_url)}, *args)] == ids


def test_models_of_every_backend_are_listed(upstream: FakeUpstream, cwd: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = models(capsys, cwd, {"openrouter": backend(upstream.base_url), "local": backend(upstream.base_url, "openai")})
    assert rows == [("openrouter", "openai/gpt-4o"), ("openrouter", "qwen/qwen3-coder:free"),
                    ("local", "openai/gpt-4o"), ("local", "qwen/qwen3-coder:free")]


def test_a_backend_that_is_down_is_reported_and_the_others_listed(
    upstream: FakeUpstream, cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backends = {"openrouter": backend(upstream.base_url), "down": backend("http://127.0.0.1:9/v1", "openai")}
    assert [i for _, i in models(capsys, cwd, backends)] == ["openai/gpt-4o", "qwen/qwen3-coder:free"]


def test_models_provider_may_name_a_backend(upstream: FakeUpstream, cwd: Path, capsys: pytest.CaptureFixture[str]) -> None:
    backends = {"openrouter": backend(upstream.base_url), "local": backend(upstream.base_url, "openai")}
    assert {b for b, _ in models(capsys, cwd, backends, "--provider", "local")} == {"local"}


def test_usage_runs_on_the_shipped_config_without_its_upstream_key(cwd: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shipped = Path(__file__).resolve().parents[2] / "config.yaml"
    assert "${OPENROUTER_API_KEY}" in shipped.read_text(encoding="utf-8")  # and that variable is unset here
    copy = cwd / "config.yaml"
    copy.write_text(shipped.read_text(encoding="utf-8"), encoding="utf-8")

    summary = run_json(capsys, "usage", "--config", str(copy), "--json")

    assert summary["totals"]["requests"] == 0


def test_serving_still_refuses_an_unset_variable(cwd: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shipped = Path(__file__).resolve().parents[2] / "config.yaml"
    assert main(["--config", str(shipped)]) == 2
    assert "OPENROUTER_API_KEY is not set" in capsys.readouterr().err
