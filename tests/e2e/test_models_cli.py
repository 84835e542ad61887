"""`python -m src.core.cli models`: the backends' model lists as a table or JSON, with filters."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.usage_helpers import run_cli, write_cli_config
from tests.fakes.upstream import FakeUpstream

GPT_4O = {
    "backend": "openrouter", "id": "openai/gpt-4o", "context_length": 128000, "prompt_per_million": 2.5,
    "completion_per_million": 10.0, "tools": True, "free": False, "name": "OpenAI: GPT-4o", "provider": "openai",
}  # fmt: skip
QWEN = {
    "backend": "openrouter", "id": "qwen/qwen3-coder:free", "context_length": 262144, "prompt_per_million": 0.0,
    "completion_per_million": 0.0, "tools": False, "free": True, "name": "Qwen3 Coder (free)", "provider": "qwen",
}  # fmt: skip


def config(base_url: str) -> dict[str, Any]:
    return {"backends": {"openrouter": {"type": "openrouter", "api_key": "sk-or-v1-cli-0001", "base_url": base_url}}}


def models(tmp_path: Path, upstream: FakeUpstream, *args: str) -> str:
    write_cli_config(tmp_path, config(upstream.base_url))
    result = run_cli(["models", "--config", "switchyard.yaml", *args], tmp_path)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_table_lists_every_model_with_context_prices_and_tools(upstream: FakeUpstream, tmp_path: Path) -> None:
    lines = models(tmp_path, upstream).splitlines()
    assert [line.split() for line in lines] == [
        ["BACKEND", "MODEL", "CONTEXT", "INPUT", "$/M", "OUTPUT", "$/M", "TOOLS"],
        ["openrouter", "openai/gpt-4o", "128,000", "$2.50", "$10.00", "yes"],
        ["openrouter", "qwen/qwen3-coder:free", "262,144", "free", "free", "no"],
    ]
    header, row = lines[0], lines[1]
    assert header.index("MODEL") == row.index("openai/gpt-4o")  # names line up on the left
    assert header.index("CONTEXT") + len("CONTEXT") == row.index("128,000") + len("128,000")  # numbers on the right
    assert any(r.path == "/api/v1/models" and r.headers["Authorization"] == "Bearer sk-or-v1-cli-0001"
               for r in upstream.requests)


def test_json_gives_every_field_of_every_model(upstream: FakeUpstream, tmp_path: Path) -> None:
    assert json.loads(models(tmp_path, upstream, "--json")) == [GPT_4O, QWEN]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--free"], [QWEN]),
        (["--tools"], [GPT_4O]),
        (["--provider", "openai"], [GPT_4O]),
        (["--search", "CODER"], [QWEN]),  # ids and names, any case
        (["--free", "--tools"], []),
    ],
)
def test_filters(upstream: FakeUpstream, tmp_path: Path, args: list[str], expected: list[dict[str, Any]]) -> None:
    assert json.loads(models(tmp_path, upstream, "--json", *args)) == expected


def test_a_filter_that_matches_nothing_prints_only_the_header(upstream: FakeUpstream, tmp_path: Path) -> None:
    assert models(tmp_path, upstream, "--search", "no-such-model").split() == [
        "BACKEND", "MODEL", "CONTEXT", "INPUT", "$/M", "OUTPUT", "$/M", "TOOLS"]


def test_a_backend_that_cannot_list_its_models_fails_the_command(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    write_cli_config(tmp_path, config(f"http://127.0.0.1:{port}/api/v1"))
    result = run_cli(["models", "--config", "switchyard.yaml"], tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("switchyard: openrouter") and "Traceback" not in result.stderr
    assert "sk-or-v1-cli-0001" not in result.stderr + result.stdout
