"""Backends in src/config/backends.py: types, keys, names and base_url validation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from src.config import Config, OpenRouterBackendConfig
from tests.config.config_helpers import LOCAL, first_error, minimal, openai_backend
from tests.config.loading_helpers import OR_FILE_KEY, assert_clean, config_file, load_error

# --- default_backend and backend types ----------------------------------------------------------------


def test_default_backend_must_be_a_configured_backend() -> None:
    error = first_error(minimal(default_backend="nope"))
    assert error["type"] == "value_error"
    assert "default_backend" in error["msg"]
    assert "'nope'" in error["msg"]
    assert "local" in error["msg"]  # the configured backends are listed


def test_built_in_default_backend_is_openrouter_and_must_exist() -> None:
    error = first_error({"backends": {"local": dict(LOCAL)}})
    assert "'openrouter' is not a configured backend" in error["msg"]


def test_unknown_backend_type_is_rejected() -> None:
    error = first_error({"backends": {"x": {"type": "weird", "base_url": "http://x"}}, "default_backend": "x"})
    assert error["type"] == "union_tag_invalid"
    assert tuple(error["loc"]) == ("backends", "x")


def test_backend_without_type_is_rejected() -> None:
    error = first_error({"backends": {"x": {"base_url": "http://x"}}, "default_backend": "x"})
    assert error["type"] == "union_tag_not_found"


def test_openrouter_backend_without_key_is_rejected() -> None:
    error = first_error({"backends": {"openrouter": {"type": "openrouter"}}})
    assert error["type"] == "value_error"
    assert tuple(error["loc"]) == ("backends", "openrouter", "openrouter")
    assert "api_key" in error["msg"]
    assert "OPENROUTER_API_KEY" in error["msg"]


@pytest.mark.parametrize("backend", [{"api_key": ""}, {"api_key": None}, {"api_keys": []}])
def test_openrouter_backend_with_an_empty_key_is_rejected(backend: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="needs a key"):
        Config.model_validate({"backends": {"openrouter": {"type": "openrouter", **backend}}})


def test_openrouter_backend_with_a_key_gets_the_default_base_url() -> None:
    config = Config.model_validate({"backends": {"openrouter": {"type": "openrouter", "api_key": "sk-or-1"}}})
    backend = config.backends["openrouter"]
    assert isinstance(backend, OpenRouterBackendConfig)
    assert backend.base_url == "https://openrouter.ai/api/v1"
    assert backend.upstream_keys() == ("sk-or-1",)
    assert config.default_backend == "openrouter"


def test_openai_backend_requires_base_url() -> None:
    error = first_error({"backends": {"x": {"type": "openai"}}, "default_backend": "x"})
    assert error["type"] == "missing"
    assert tuple(error["loc"]) == ("backends", "x", "openai", "base_url")


@pytest.mark.parametrize("backend_type", ["openai", "openrouter"])
def test_api_key_and_api_keys_together_are_rejected(backend_type: str) -> None:
    backend = {"type": backend_type, "base_url": "http://x", "api_key": "sk-a", "api_keys": ["sk-b"]}
    error = first_error({"backends": {"b": backend}, "default_backend": "b"})
    assert error["type"] == "value_error"
    assert "not both" in error["msg"]


def test_an_empty_key_in_api_keys_is_rejected() -> None:
    backend = {**LOCAL, "api_keys": ["sk-a", ""]}
    with pytest.raises(ValidationError, match="empty"):
        Config.model_validate({"backends": {"local": backend}, "default_backend": "local"})


# --- base_url -------------------------------------------------------------------------------------------


def base_url_error(url: str) -> ErrorDetails:
    error = first_error({"backends": {"b": {"type": "openai", "base_url": url}}, "default_backend": "b"})
    assert tuple(error["loc"]) == ("backends", "b", "openai", "base_url")
    return error


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/v1",
        "openrouter.ai/api/v1",
        "127.0.0.1:8080",
        "",
        "file:///tmp/x",
        "http://",  # no host
        "http:///v1",
        "https://:8080/v1",
        "https://exa mple.com/v1",  # spaces
        "http://127.0.0.1:9/v 1",
        " http://127.0.0.1:9/v1",
        "sk-or-v1-0123456789abcdef",  # a key where the URL belongs
    ],
)
def test_base_url_must_be_an_http_url_with_a_host(url: str) -> None:
    message = base_url_error(url)["msg"]
    assert "http://" in message and "https://" in message
    assert "host" in message
    # The value may be a misplaced key: it is never quoted.
    for part in ("example.com", "127.0.0.1", "openrouter.ai", "/tmp/x", "mple", "sk-or-v1"):
        assert part not in message


@pytest.mark.parametrize(
    "url",
    ["http://user:sk-secret-pw@127.0.0.1:9/v1", "https://sk-secret-pw@example.com/v1", "http://:sk-secret-pw@h/v1"],
)
def test_base_url_must_not_hold_credentials(url: str) -> None:
    message = base_url_error(url)["msg"]
    assert "credentials" in message
    assert "api_key" in message
    assert "sk-secret-pw" not in message


@pytest.mark.parametrize("url", ["http://127.0.0.1:99999/v1", "http://127.0.0.1:65536", "http://h:abc/v1", "http://h:-1/v1"])
def test_base_url_port_must_be_valid(url: str) -> None:
    assert "invalid port" in base_url_error(url)["msg"]


@pytest.mark.parametrize(
    ("url", "stored"),
    [
        ("http://127.0.0.1:11434/v1/", "http://127.0.0.1:11434/v1"),
        ("https://example.com/api/v1///", "https://example.com/api/v1"),
        ("https://example.com", "https://example.com"),
        ("http://[::1]:8080/v1", "http://[::1]:8080/v1"),
        ("http://127.0.0.1:65535/v1", "http://127.0.0.1:65535/v1"),
        # urlsplit lowercases the scheme, so an upper-case one is accepted, and kept as written
        ("HTTP://not-lowercase", "HTTP://not-lowercase"),
        ("Https://example.com/v1/", "Https://example.com/v1"),
    ],
)
def test_valid_base_url_is_kept_without_trailing_slashes(url: str, stored: str) -> None:
    data = {"backends": {"b": {"type": "openai", "base_url": url}}, "default_backend": "b"}
    assert openai_backend(Config.model_validate(data), "b").base_url == stored


# --- backend names ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["or:main", "a/b", "with space", ""])
def test_backend_names_with_separators_are_rejected(name: str) -> None:
    error = first_error({"backends": {name: dict(LOCAL)}, "default_backend": name})
    assert error["loc"] == ("backends",)
    assert repr(name) in error["msg"]


def test_backend_names_with_letters_digits_dash_dot_underscore_are_accepted() -> None:
    config = Config.model_validate({"backends": {"My-back_end.2": dict(LOCAL)}, "default_backend": "My-back_end.2"})
    assert list(config.backends) == ["My-back_end.2"]


INLINE_LEGS = {"reasoning_model": "local:r1", "execution_model": "local:q"}


@pytest.mark.parametrize(
    "backend",
    [dict(LOCAL), {"type": "openrouter", "api_key": OR_FILE_KEY}],
    ids=["openai", "openrouter"],
)
def test_a_backend_named_hybrid_of_another_type_is_a_one_line_error(tmp_path: Path, backend: dict[str, Any]) -> None:
    # `hybrid:[r,e]` in a model string names the backend called `hybrid`: it must be a hybrid one.
    path = config_file(tmp_path, {"backends": {"local": dict(LOCAL), "hybrid": backend}, "default_backend": "local"})
    error = load_error({"config": str(path)})
    text = assert_clean(error)
    assert (error.where, error.key) == (str(path), "backends.hybrid.type")
    assert text.startswith(f"{path}: backends.hybrid.type: a backend named 'hybrid' must be of type hybrid")


def test_a_backend_named_hybrid_of_type_hybrid_is_accepted() -> None:
    hybrid = {"type": "hybrid", **INLINE_LEGS}
    config = Config.model_validate({"backends": {"local": dict(LOCAL), "hybrid": hybrid}, "default_backend": "local"})
    assert set(config.hybrid_backends()) == {"hybrid"}
