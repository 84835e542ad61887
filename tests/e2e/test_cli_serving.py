"""The proxy started as a user starts it: `python -m src.core.cli`, flags and environment."""

from __future__ import annotations

from pathlib import Path

import httpx
import openai
import pytest
import yaml
from openai.types.chat import ChatCompletionMessageParam

from tests.e2e.cli_helpers import ROOT, free_port, serving
from tests.e2e.cli_helpers import client as _client
from tests.fakes.upstream import FakeUpstream

PROXY_KEY = "sy-cli-proxy-key-0002"
OPENROUTER_KEY = "sk-or-v1-cli-secret-0002"
OTHER_KEY = "sk-other-cli-secret-0002"
MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "a private prompt"}]


def _write_config(path: Path, upstream: FakeUpstream) -> Path:
    config = {
        "backends": {
            "openrouter": {"type": "openrouter", "base_url": upstream.base_url, "api_key": "${OPENROUTER_API_KEY}"},
            "other": {"type": "openai", "base_url": upstream.base_url, "api_key": OTHER_KEY},
        },
        "model_aliases": [{"pattern": "^gpt-(.*)", "replacement": "openrouter:openai/gpt-\\1"}],
    }
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def config_file(tmp_path: Path, upstream: FakeUpstream) -> Path:
    return _write_config(tmp_path / "config.yaml", upstream)


ENV = {"OPENROUTER_API_KEY": OPENROUTER_KEY, "SWITCHYARD_API_KEY": PROXY_KEY}


def test_default_backend_flag_routes_plain_models(config_file: Path, upstream: FakeUpstream) -> None:
    with serving(["--config", str(config_file), "--default-backend", "other"], ENV) as (url, _):
        _client(url).chat.completions.create(model="llama3:8b", messages=MESSAGES)
        assert upstream.last().headers["Authorization"] == f"Bearer {OTHER_KEY}"
        assert upstream.last().body["model"] == "llama3:8b"

        _client(url).chat.completions.create(model="gpt-4o", messages=MESSAGES)  # the alias names openrouter
        assert upstream.last().headers["Authorization"] == f"Bearer {OPENROUTER_KEY}"
        assert upstream.last().body["model"] == "openai/gpt-4o"


def test_force_model_replaces_every_model(config_file: Path, upstream: FakeUpstream) -> None:
    args = ["--config", str(config_file), "--default-backend", "openrouter", "--force-model", "anthropic/claude-3-5-sonnet"]
    with serving(args, ENV) as (url, _):
        for requested in ("gpt-4o", "other:llama3", "anything"):
            _client(url).chat.completions.create(model=requested, messages=MESSAGES)
            assert upstream.last().body["model"] == "anthropic/claude-3-5-sonnet"
            assert upstream.last().headers["Authorization"] == f"Bearer {OPENROUTER_KEY}"


def test_force_model_keeps_the_clients_uri_parameters(config_file: Path, upstream: FakeUpstream) -> None:
    args = ["--config", str(config_file), "--default-backend", "openrouter", "--force-model", "anthropic/claude-3-5-sonnet"]
    with serving(args, ENV) as (url, _):
        model = "openrouter:anthropic/claude-3-5-sonnet?temperature=0.7&top_p=0.9"
        _client(url).chat.completions.create(model=model, messages=MESSAGES)
        body = upstream.last().body
        assert (body["model"], body["temperature"], body["top_p"]) == ("anthropic/claude-3-5-sonnet", 0.7, 0.9)


def test_the_banner_names_what_the_proxy_was_started_with(config_file: Path, upstream: FakeUpstream) -> None:
    with serving(["--config", str(config_file), "--force-model", "x/forced"], ENV) as (_, log):
        pass
    [line] = [line for line in log if "Switchyard 0.1.0 on http://127.0.0.1:" in line]
    for part in (f"config: {config_file}", f"usage database: {config_file.parent / 'switchyard.db'}",
                 "backends: openrouter (openrouter, default), other (openai)", "auth: 1 proxy key",
                 "forced model: x/forced", "workers: 1"):  # fmt: skip
        assert part in line


def test_environment_layer_sets_port_backend_and_forced_model(config_file: Path, upstream: FakeUpstream) -> None:
    env = {
        **ENV,
        "SWITCHYARD_CONFIG": str(config_file),
        "SWITCHYARD_PORT": str(free_port()),
        "SWITCHYARD_HOST": "127.0.0.1",
        "SWITCHYARD_DEFAULT_BACKEND": "other",
        "SWITCHYARD_FORCE_MODEL": "qwen2.5-coder",
    }
    with serving([], env) as (url, _):
        assert url.endswith(env["SWITCHYARD_PORT"])
        _client(url).chat.completions.create(model="gpt-4o", messages=MESSAGES)
        assert upstream.last().body["model"] == "qwen2.5-coder"
        assert upstream.last().headers["Authorization"] == f"Bearer {OTHER_KEY}"


def test_cli_flag_beats_environment(config_file: Path, upstream: FakeUpstream) -> None:
    env = {**ENV, "SWITCHYARD_DEFAULT_BACKEND": "openrouter"}
    with serving(["--config", str(config_file), "--default-backend", "other"], env) as (url, _):
        _client(url).chat.completions.create(model="plain", messages=MESSAGES)
        assert upstream.last().headers["Authorization"] == f"Bearer {OTHER_KEY}"


def test_logs_hold_no_keys_and_no_bodies_even_at_debug(config_file: Path, upstream: FakeUpstream) -> None:
    with serving(["--config", str(config_file), "--log-level", "debug"], ENV) as (url, log):
        client = _client(url)
        client.chat.completions.create(model="x/ok", messages=MESSAGES)
        with pytest.raises(openai.AuthenticationError):
            client.chat.completions.create(model="x/echo-key-401", messages=MESSAGES)
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=f"{url}/v1", api_key="wrong", max_retries=0).models.list()

    text = "\n".join(log)
    assert "Switchyard 0.1.0 on http://127.0.0.1:" in text
    access = [line.split("switchyard.access: ")[1] for line in log if "switchyard.access: " in line]
    access = [line for line in access if not line.startswith("GET /health ")]  # the start-up probes'
    assert len(access) == 3  # one line per request
    assert access[0].startswith("POST /v1/chat/completions 200 route=openrouter:x/ok attempts=1 ")
    assert access[0].endswith("ms key=default")
    assert access[1].startswith("POST /v1/chat/completions 401 route=openrouter:x/echo-key-401 attempts=1 ")
    assert access[2].startswith("GET /v1/models 401 route=- attempts=- ") and access[2].endswith("key=-")
    assert "Incorrect API key provided: [redacted]" in text
    for secret in (PROXY_KEY, OPENROUTER_KEY, OTHER_KEY, "a private prompt"):
        assert secret not in text


def test_shipped_config_starts(upstream: FakeUpstream) -> None:
    # A copy in the test's own folder: the shipped file puts its usage database beside itself.
    shipped = Path("config.yaml")
    shipped.write_text((ROOT / "config.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    with serving(["--config", str(shipped.resolve())], ENV) as (url, _):
        assert httpx.get(f"{url}/health").json()["status"] == "ok"
        response = httpx.get(f"{url}/v1/models")
        assert response.status_code == 401
    assert Path("switchyard.db").is_file()  # beside the copy, not in the checkout
