"""Keys and identity values (src/config/keys.py, src/config/backends.py) are cleaned or refused before they
can reach a header: keys lose surrounding space (a file's trailing newline), keys that no header could carry
are refused, proxy keys must be long enough, and identity values must hold no control characters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from src.config import (
    Config,
    Identity,
    OpenAIBackendConfig,
    OpenRouterBackendConfig,
)
from src.config.loading import load_config
from tests.config.config_helpers import LOCAL, first_error, minimal
from tests.config.loading_helpers import BACKENDS, config_file, load_error

OR = {"type": "openrouter"}
BAD_KEYS = [
    pytest.param("sk-or abc", id="inner space"),
    pytest.param("sk-or\tabc", id="inner tab"),
    pytest.param("sk-or\nabc", id="inner newline"),
    pytest.param("sk-or\r\nX-Evil: 1", id="header injection"),
    pytest.param("sk-or\x00abc", id="NUL"),
    pytest.param("sk-or\x7fabc", id="DEL"),
    pytest.param("sk-or-\u00e4bc", id="non-ASCII letter"),
    pytest.param("sk-or-\u00a0abc", id="no-break space"),
    pytest.param("sk-or-\u0661\u0662\u0663", id="non-ASCII digits"),
]


# --- surrounding space is stripped -----------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["sk-or-abc\n", "sk-or-abc\r\n", "  sk-or-abc", "\tsk-or-abc \n"])
@pytest.mark.parametrize(("model", "type_"), [(OpenRouterBackendConfig, "openrouter"), (OpenAIBackendConfig, "openai")])
def test_api_key_is_stripped(model: type[OpenAIBackendConfig], type_: str, raw: str) -> None:
    backend = model.model_validate({**LOCAL, "type": type_, "api_key": raw})
    assert backend.upstream_keys() == ("sk-or-abc",)


def test_api_keys_are_stripped() -> None:
    backend = OpenRouterBackendConfig.model_validate({**OR, "api_keys": ["sk-or-k1\n", " sk-or-k2 ", "\tsk-or-k3"]})
    assert backend.upstream_keys() == ("sk-or-k1", "sk-or-k2", "sk-or-k3")


def test_proxy_keys_are_stripped_and_secrets_hold_the_stripped_keys() -> None:
    config = Config.model_validate(
        minimal(
            auth={"api_keys": [{"name": "alice", "key": "sy-proxy-alice\n"}, {"name": "bob", "key": "  sy-proxy-bob  "}]},
            backends={"local": {**LOCAL, "api_key": "sk-local-1\n"}},
        )
    )
    assert config.proxy_keys() == {"alice": "sy-proxy-alice", "bob": "sy-proxy-bob"}
    assert sorted(config.secrets()) == ["sk-local-1", "sy-proxy-alice", "sy-proxy-bob"]


@pytest.mark.parametrize("backend", [{"api_key": " \n"}, {"api_keys": ["sk-or-1", "\n"]}])
def test_a_key_of_only_space_is_no_key(backend: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="needs a key|a key is empty"):
        OpenRouterBackendConfig.model_validate({**OR, **backend})


# --- keys no header can carry are refused --------------------------------------------------------------------------


@pytest.mark.parametrize("key", BAD_KEYS)
def test_api_key_that_is_not_printable_ascii_is_refused(key: str) -> None:
    error = first_error({"backends": {"openrouter": {**OR, "api_key": key}}})
    assert tuple(error["loc"]) == ("backends", "openrouter", "openrouter", "api_key")
    assert "printable ASCII without spaces" in error["msg"]
    assert key not in error["msg"]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_api_keys_entry_that_is_not_printable_ascii_is_refused(key: str) -> None:
    error = first_error({"backends": {"openrouter": {**OR, "api_keys": ["sk-or-good", key]}}})
    assert tuple(error["loc"])[:4] == ("backends", "openrouter", "openrouter", "api_keys")
    assert "printable ASCII without spaces" in error["msg"]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_proxy_key_that_is_not_printable_ascii_is_refused(key: str) -> None:
    error = first_error(minimal(auth={"api_keys": [{"name": "alice", "key": key + "-long-enough"}]}))
    assert tuple(error["loc"]) == ("auth", "api_keys", 0, "key")
    assert "printable ASCII without spaces" in error["msg"]


# --- proxy keys must be long enough ------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["a", "sy-1234", "1234567", "  1234567  \n"])
def test_proxy_key_shorter_than_8_characters_is_refused(key: str) -> None:
    error = first_error(minimal(auth={"api_keys": [{"name": "alice", "key": key}]}))
    assert tuple(error["loc"]) == ("auth", "api_keys", 0, "key")
    assert "shorter than 8 characters" in error["msg"]


@pytest.mark.parametrize("key", ["12345678", " 12345678\n", "sy-proxy-key-long"])
def test_proxy_key_of_8_characters_or_more_is_accepted(key: str) -> None:
    config = Config.model_validate(minimal(auth={"api_keys": [{"name": "alice", "key": key}]}))
    assert config.proxy_keys() == {"alice": key.strip()}


def test_empty_proxy_key_is_refused_as_empty() -> None:
    error = first_error(minimal(auth={"api_keys": [{"name": "alice", "key": " \n "}]}))
    assert "is empty" in error["msg"]


# --- identity values --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["user_agent", "referer", "title"])
@pytest.mark.parametrize("value", ["a\nb", "a\rb", "a\x00b", "a\tb", "a\x7fb", "trailing\n"])
def test_identity_value_with_control_characters_is_refused(field: str, value: str) -> None:
    with pytest.raises(ValidationError, match="control characters"):
        Identity.model_validate({field: value})
    error = first_error(minimal(identity={field: value}))
    assert tuple(error["loc"]) == ("identity", field)
    backend_error = first_error(minimal(backends={"local": {**LOCAL, "identity": {field: value}}}))
    assert tuple(backend_error["loc"]) == ("backends", "local", "openai", "identity", field)


@pytest.mark.parametrize("field", ["user_agent", "referer", "title"])
@pytest.mark.parametrize("value", ["Caf\u00e9", "M\u00f6n App \u2603", "caf\u00e9/1.0 (\u65e5\u672c)"])
def test_identity_value_that_is_not_ascii_is_accepted(field: str, value: str) -> None:
    assert getattr(Identity.model_validate({field: value}), field) == value
    config = Config.model_validate(minimal(identity={field: value}))
    assert getattr(config.identity, field) == value


# --- through load_config ------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("cwd")
def test_openrouter_api_key_from_the_environment_is_stripped() -> None:
    config = load_config({}, {"OPENROUTER_API_KEY": "sk-or-abc\n"})
    assert config.backends["openrouter"].upstream_keys() == ("sk-or-abc",)
    assert "sk-or-abc\n" not in config.secrets()


@pytest.mark.usefixtures("cwd")
def test_switchyard_api_key_from_the_environment_is_stripped(tmp_path: Path) -> None:
    path = config_file(tmp_path, {"backends": BACKENDS})
    config = load_config({"config": str(path)}, {"SWITCHYARD_API_KEY": "sy-proxy-env-key\r\n"})
    assert config.proxy_keys() == {"default": "sy-proxy-env-key"}


@pytest.mark.usefixtures("cwd")
def test_key_file_with_a_trailing_newline_is_stripped(tmp_path: Path) -> None:
    path = config_file(tmp_path, 'backends:\n  openrouter:\n    type: openrouter\n    api_key: "sk-or-file-key\\n"\n')
    assert load_config({"config": str(path)}, {}).backends["openrouter"].upstream_keys() == ("sk-or-file-key",)


@pytest.mark.usefixtures("cwd")
@pytest.mark.parametrize("key", ["sk-or abc-secret", "sk-or-\u00e4-secret"])
def test_bad_openrouter_api_key_from_the_environment_is_a_clean_config_error(key: str) -> None:
    error = load_error({}, {"OPENROUTER_API_KEY": key})
    text = str(error)
    assert "api_key" in text
    assert "printable ASCII" in text
    assert key not in text and "secret" not in text


@pytest.mark.usefixtures("cwd")
def test_short_switchyard_api_key_is_a_config_error_saying_so(tmp_path: Path) -> None:
    path = config_file(tmp_path, {"backends": BACKENDS})
    error = load_error({"config": str(path)}, {"SWITCHYARD_API_KEY": "abc123"})
    assert "shorter than 8 characters" in str(error)
    assert "abc123" not in str(error)
