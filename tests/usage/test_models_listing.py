"""The `models` listing: rows from a catalog, filters, table and JSON ("did you mean": tests/routing)."""

from __future__ import annotations

import orjson
import pytest

from src.usage.models_listing import (
    ModelRow,
    filter_rows,
    format_table,
    rows_from_catalog,
    rows_json,
)

CATALOG = [
    {"id": "openai/gpt-4o", "name": "OpenAI: GPT-4o", "context_length": 128000,
     "pricing": {"prompt": "0.0000025", "completion": "0.00001"}, "supported_parameters": ["tools", "temperature"]},
    {"id": "qwen/qwen3-coder:free", "name": "Qwen3 Coder (free)", "context_length": 262144,
     "pricing": {"prompt": "0", "completion": "0"}, "supported_parameters": ["tools"]},
    {"id": "meta-llama/llama-3.1-8b-instruct", "context_length": None, "top_provider": {"context_length": 16384},
     "pricing": {"prompt": "0.00000002", "completion": "0.00000005"}, "supported_parameters": ["temperature"]},
    {"id": "openrouter/auto", "context_length": 2000000, "pricing": {"prompt": "-1", "completion": "-1"}},
    {"id": "google/gemma-free-ish", "pricing": {"prompt": 0, "completion": "0"}, "supported_parameters": "tools"},
    {"id": "llama3:8b"},  # a local server: no pricing, no vendor prefix
    {"id": "odd", "pricing": "0.1", "context_length": True, "supported_parameters": None},
    {"id": ""},
    {"name": "no id"},
    "not a dict",
]  # fmt: skip


@pytest.fixture
def rows() -> list[ModelRow]:
    return rows_from_catalog(CATALOG, "openrouter")  # type: ignore[arg-type]


def test_rows_from_catalog(rows: list[ModelRow]) -> None:
    got = [(r.id, r.provider, r.context_length, r.prompt_per_million, r.completion_per_million, r.tools, r.free)
           for r in rows]  # fmt: skip
    assert got == [
        ("openai/gpt-4o", "openai", 128000, 2.5, 10.0, True, False),
        ("qwen/qwen3-coder:free", "qwen", 262144, 0.0, 0.0, True, True),
        ("meta-llama/llama-3.1-8b-instruct", "meta-llama", 16384, 0.02, 0.05, False, False),
        ("openrouter/auto", "openrouter", 2000000, None, None, False, False),
        ("google/gemma-free-ish", "google", None, 0.0, 0.0, False, True),
        ("llama3:8b", "openrouter", None, None, None, False, False),
        ("odd", "openrouter", None, None, None, False, False),
    ]
    assert rows[0].name == "OpenAI: GPT-4o" and rows[5].name is None
    assert rows_from_catalog([{"id": "m", "pricing": {"prompt": "0", "completion": "0.1"}}], "b")[0].free is False
    assert rows_from_catalog([{"id": "x:free", "pricing": {"prompt": "1", "completion": "1"}}], "b")[0].free is True


@pytest.mark.parametrize(
    ("filters", "ids"),
    [
        ({}, ["openai/gpt-4o", "qwen/qwen3-coder:free", "meta-llama/llama-3.1-8b-instruct", "openrouter/auto",
              "google/gemma-free-ish", "llama3:8b", "odd"]),
        ({"free": True}, ["qwen/qwen3-coder:free", "google/gemma-free-ish"]),
        ({"tools": True}, ["openai/gpt-4o", "qwen/qwen3-coder:free"]),
        ({"free": True, "tools": True}, ["qwen/qwen3-coder:free"]),
        ({"provider": "OpenAI"}, ["openai/gpt-4o"]),
        ({"provider": "openrouter"}, ["openrouter/auto", "llama3:8b", "odd"]),  # no vendor prefix: the backend
        ({"provider": "nobody"}, []),
        ({"search": "LLAMA"}, ["meta-llama/llama-3.1-8b-instruct", "llama3:8b"]),
        ({"search": "coder (free"}, ["qwen/qwen3-coder:free"]),  # the name counts too
        ({"search": "gpt", "tools": True, "provider": "openai"}, ["openai/gpt-4o"]),
        ({"search": ""}, ["openai/gpt-4o", "qwen/qwen3-coder:free", "meta-llama/llama-3.1-8b-instruct",
                          "openrouter/auto", "google/gemma-free-ish", "llama3:8b", "odd"]),
    ],
)  # fmt: skip
def test_filter_rows(rows: list[ModelRow], filters: dict, ids: list[str]) -> None:
    assert [r.id for r in filter_rows(rows, **filters)] == ids


def test_format_table(rows: list[ModelRow]) -> None:
    assert format_table(rows[:4] + rows[5:6]).splitlines() == [
        "BACKEND     MODEL                               CONTEXT  INPUT $/M  OUTPUT $/M  TOOLS",
        "openrouter  openai/gpt-4o                       128,000      $2.50      $10.00  yes",
        "openrouter  qwen/qwen3-coder:free               262,144       free        free  yes",
        "openrouter  meta-llama/llama-3.1-8b-instruct     16,384      $0.02       $0.05  no",
        "openrouter  openrouter/auto                   2,000,000          -           -  no",
        "openrouter  llama3:8b                                 -          -           -  no",
    ]


def test_format_table_empty() -> None:
    assert format_table([]) == "BACKEND  MODEL  CONTEXT  INPUT $/M  OUTPUT $/M  TOOLS"


def test_rows_json(rows: list[ModelRow]) -> None:
    data = orjson.loads(rows_json(rows[:2]))
    assert data[0] == {
        "backend": "openrouter", "id": "openai/gpt-4o", "name": "OpenAI: GPT-4o", "provider": "openai",
        "context_length": 128000, "prompt_per_million": 2.5, "completion_per_million": 10.0,
        "tools": True, "free": False,
    }  # fmt: skip
    assert data[1]["free"] is True and len(data) == 2
    assert orjson.loads(rows_json([])) == []
