"""--workers: validated like any setting; each worker loads the same configuration again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from src.config import ConfigError
from src.core.app import ENDPOINTS, App
from src.core.cli import WORKER_ARGV, load_serving_config, main, worker_app

CONFIG = """
backends:
  local: {type: openai, base_url: "http://127.0.0.1:9/v1"}
default_backend: local
auth: {api_keys: [{name: alice, key: worker-test-key-1}]}
usage: {database: null}
"""


def test_fewer_than_one_worker_is_a_one_line_config_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(CONFIG)
    assert main(["--config", str(path), "--workers", "0"]) == 2
    assert capsys.readouterr().err.strip() == "switchyard: config error: --workers: workers: must be at least 1"


def test_a_worker_builds_its_app_from_the_command_line_it_was_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(CONFIG)
    monkeypatch.setenv(WORKER_ARGV, json.dumps(["--config", str(path), "--port", "8123", "--workers", "2"]))
    app = worker_app()
    assert isinstance(app, App)
    assert (app.config.port, list(app.config.backends), app.config.proxy_keys()) == (
        8123,
        ["local"],
        {"alice": "worker-test-key-1"},
    )
    assert ENDPOINTS[0].path == "/v1/chat/completions"
    assert load_serving_config(["--config", str(path), "--workers", "3"]).port == 8000


def test_a_worker_with_a_bad_configuration_fails_as_the_parent_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(CONFIG.replace("openai", "olama"))
    monkeypatch.setenv(WORKER_ARGV, json.dumps(["--config", str(path)]))
    with pytest.raises(ConfigError, match="backends.local.type"):
        worker_app()
