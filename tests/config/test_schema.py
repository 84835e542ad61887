"""The configuration contract in src/config/schema.py: pydantic models validated from plain dicts."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from src.config import Config, OpenAIBackendConfig, is_loopback
from tests.config.config_helpers import LOCAL, first_error, minimal

# --- defaults --------------------------------------------------------------------------------------


def test_minimal_config_gets_the_documented_defaults() -> None:
    config = Config.model_validate(minimal())
    assert config.host == "127.0.0.1"
    assert config.port == 8000
    assert config.default_backend == "local"
    assert config.force_model is None
    assert config.log_level == "info"
    assert config.disable_auth is False
    assert config.auth.api_keys == []
    assert config.model_aliases == []
    assert list(config.backends) == ["local"]
    assert isinstance(config.backends["local"], OpenAIBackendConfig)


# --- unknown keys are rejected at every level --------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "loc"),
    [
        (minimal(bogus=1), ("bogus",)),
        (minimal(auth={"api_keys": [], "bogus": 1}), ("auth", "bogus")),
        (minimal(auth={"api_keys": [{"name": "a", "key": "sk-proxy-1", "bogus": 1}]}), ("auth", "api_keys", 0, "bogus")),
        (minimal(identity={"title": "t", "bogus": 1}), ("identity", "bogus")),
        (
            {"backends": {"local": {**LOCAL, "bogus": 1}}, "default_backend": "local"},
            ("backends", "local", "openai", "bogus"),
        ),
        (
            {"backends": {"local": {**LOCAL, "identity": {"bogus": 1}}}, "default_backend": "local"},
            ("backends", "local", "openai", "identity", "bogus"),
        ),
        (minimal(model_aliases=[{"pattern": "a", "replacement": "b", "bogus": 1}]), ("model_aliases", 0, "bogus")),
    ],
    ids=["top", "auth", "auth.api_keys item", "identity", "backends.<name>", "backends.<name>.identity", "model_aliases item"],
)
def test_unknown_keys_are_rejected_at_every_level(data: dict[str, Any], loc: tuple[Any, ...]) -> None:
    error = first_error(data)
    assert error["type"] == "extra_forbidden"
    assert tuple(error["loc"]) == loc


def test_known_keys_at_every_level_are_accepted() -> None:
    config = Config.model_validate(
        minimal(
            host="0.0.0.0",
            port=1234,
            force_model="m",
            log_level="debug",
            disable_auth=True,
            models_cache_ttl=0,
            auth={"api_keys": [{"name": "alice", "key": "sk-proxy-alice"}]},
            identity={"user_agent": "ua", "referer": "https://r.example", "title": "T"},
            model_aliases=[{"pattern": "^a$", "replacement": "local:b"}],
        )
    )
    assert (config.host, config.port, config.force_model, config.log_level) == ("0.0.0.0", 1234, "m", "debug")
    assert config.disable_auth is True
    assert config.models_cache_ttl == 0
    assert config.identity.title == "T"
    assert config.proxy_keys() == {"alice": "sk-proxy-alice"}
    assert config.model_aliases[0].replacement == "local:b"


# --- keys and secrets -----------------------------------------------------------------------------------


def test_keys_rotation_order_follows_api_keys() -> None:
    backend = OpenAIBackendConfig.model_validate({**LOCAL, "api_keys": ["sk-k1", "sk-k2", "sk-k3"]})
    assert backend.upstream_keys() == ("sk-k1", "sk-k2", "sk-k3")


@pytest.mark.parametrize(
    ("extra", "keys"),
    [({"api_key": "sk-single"}, ("sk-single",)), ({"api_key": None}, ()), ({"api_key": ""}, ()), ({}, ())],
)
def test_keys_with_single_or_no_key(extra: dict[str, Any], keys: tuple[str, ...]) -> None:
    assert OpenAIBackendConfig.model_validate({**LOCAL, **extra}).upstream_keys() == keys


def test_secrets_lists_proxy_and_upstream_keys() -> None:
    config = Config.model_validate(
        {
            "auth": {"api_keys": [{"name": "alice", "key": "sk-proxy-alice"}, {"name": "bob", "key": "sk-proxy-bob"}]},
            "backends": {
                "openrouter": {"type": "openrouter", "api_keys": ["sk-or-1", "sk-or-2"]},
                "local": {**LOCAL, "api_key": "sk-local"},
                "nokey": {"type": "openai", "base_url": "http://127.0.0.1:10/v1"},
            },
        }
    )
    secrets = config.secrets()
    assert sorted(secrets) == sorted(["sk-proxy-alice", "sk-proxy-bob", "sk-or-1", "sk-or-2", "sk-local"])
    assert all(secrets)  # no empty strings or None


def test_secrets_is_empty_without_keys() -> None:
    assert Config.model_validate(minimal()).secrets() == ()


def test_secret_values_are_masked_in_repr() -> None:
    config = Config.model_validate(
        minimal(
            auth={"api_keys": [{"name": "alice", "key": "sk-proxy-hidden"}]},
            backends={"local": {**LOCAL, "api_key": "sk-upstream-hidden"}},
        )
    )
    assert "sk-proxy-hidden" not in repr(config)
    assert "sk-upstream-hidden" not in repr(config)


def test_proxy_key_names_must_be_unique_and_keys_non_empty() -> None:
    dup = first_error(minimal(auth={"api_keys": [{"name": "a", "key": "key-one-1"}, {"name": "a", "key": "key-two-2"}]}))
    assert "duplicate" in dup["msg"] and "a" in dup["msg"]
    empty = first_error(minimal(auth={"api_keys": [{"name": "a", "key": "   "}]}))
    assert tuple(empty["loc"]) == ("auth", "api_keys", 0, "key")


# --- model_aliases ----------------------------------------------------------------------------------------


def test_invalid_alias_regex_is_rejected() -> None:
    error = first_error(minimal(model_aliases=[{"pattern": "^gpt-(", "replacement": "x"}]))
    assert tuple(error["loc"]) == ("model_aliases", 0, "pattern")
    assert "invalid regex" in error["msg"]


@pytest.mark.parametrize(
    ("pattern", "replacement", "problem"),
    [
        ("^gpt-(.*)", "openrouter:openai/gpt-\\2", "invalid group reference 2"),
        ("^gpt-.*", "openrouter:\\1", "invalid group reference 1"),
        ("^(?P<name>.*)$", "openrouter:\\g<other>", "unknown group name 'other'"),
        ("^x$", "openrouter:\\q", "bad escape \\q"),
    ],
)
def test_bad_replacement_is_rejected(pattern: str, replacement: str, problem: str) -> None:
    error = first_error(minimal(model_aliases=[{"pattern": "^ok$", "replacement": "y"}, {"pattern": pattern, "replacement": replacement}]))
    assert error["msg"].startswith(f"Value error, model_aliases.1.replacement: invalid replacement {replacement!r}: ")
    assert problem in error["msg"]


@pytest.mark.parametrize(
    ("pattern", "replacement"),
    [
        ("^gpt-(.*)", "openrouter:openai/gpt-\\1"),
        ("^(?P<m>.*)$", "local:\\g<m>"),
        ("^(a)(b)$", "\\g<2>\\1"),
        ("^x$", "y"),
        ("^x$", "local:\\100"),
        ("^x$", "local:x\\\\1"),
    ],
)
def test_valid_replacements_are_accepted(pattern: str, replacement: str) -> None:
    config = Config.model_validate(minimal(model_aliases=[{"pattern": pattern, "replacement": replacement}]))
    assert config.model_aliases[0].pattern == pattern


# --- log_level, port, force_model -----------------------------------------------------------------------


@pytest.mark.parametrize(("given", "stored"), [("DEBUG", "debug"), ("Warning", "warning"), ("error", "error"), ("CRITICAL", "critical")])
def test_log_level_is_case_insensitive(given: str, stored: str) -> None:
    assert Config.model_validate(minimal(log_level=given)).log_level == stored


@pytest.mark.parametrize("level", ["verbose", "trace", ""])
def test_unknown_log_level_is_rejected(level: str) -> None:
    assert first_error(minimal(log_level=level))["loc"] == ("log_level",)


@pytest.mark.parametrize("port", [0, 65536, -1])
def test_port_must_be_in_range(port: int) -> None:
    assert first_error(minimal(port=port))["loc"] == ("port",)


def test_blank_force_model_means_unset() -> None:
    assert Config.model_validate(minimal(force_model="")).force_model is None


def test_config_does_not_mutate_its_input() -> None:
    data = minimal(log_level="DEBUG")
    before = copy.deepcopy(data)
    Config.model_validate(data)
    assert data == before


# --- is_loopback ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.5.5.5", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.1", False),
        ("10.0.0.1", False),
        ("example.com", False),
        ("", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
