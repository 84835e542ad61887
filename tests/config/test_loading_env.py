"""Settings only the environment gives: OPENROUTER_API_KEY, SWITCHYARD_API_KEY, and blank variables."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from src.config.loading import load_config
from tests.config.loading_helpers import (
    BACKENDS,
    LOCAL_KEY,
    OR_ENV_KEY,
    OR_FILE_KEY,
    PROXY_ENV_KEY,
    PROXY_FILE_KEY,
    assert_clean,
    config_file,
    load_error,
    write,
)

pytestmark = pytest.mark.usefixtures("cwd")


# --- environment-only settings --------------------------------------------------------------------------------


def test_openrouter_api_key_overrides_the_file_key(tmp_path: Path) -> None:
    path = config_file(tmp_path, {"backends": BACKENDS})
    config = load_config({"config": str(path)}, {"OPENROUTER_API_KEY": OR_ENV_KEY})
    assert config.backends["openrouter"].upstream_keys() == (OR_ENV_KEY,)
    assert config.backends["c"].upstream_keys() == (LOCAL_KEY,)  # other backends are left alone
    assert OR_FILE_KEY not in config.secrets()


def test_openrouter_api_key_replaces_api_keys(tmp_path: Path) -> None:
    backends = {**BACKENDS, "openrouter": {"type": "openrouter", "api_keys": ["sk-or-r1", "sk-or-r2"]}}
    path = config_file(tmp_path, {"backends": backends})
    config = load_config({"config": str(path)}, {"OPENROUTER_API_KEY": OR_ENV_KEY})
    assert config.backends["openrouter"].upstream_keys() == (OR_ENV_KEY,)


def test_openrouter_api_key_fills_a_backend_without_key(tmp_path: Path) -> None:
    path = config_file(tmp_path, {"backends": {"openrouter": {"type": "openrouter"}}})
    config = load_config({"config": str(path)}, {"OPENROUTER_API_KEY": OR_ENV_KEY})
    assert config.backends["openrouter"].upstream_keys() == (OR_ENV_KEY,)


def test_openrouter_api_key_only_touches_the_backend_named_openrouter(tmp_path: Path) -> None:
    path = config_file(tmp_path, {"default_backend": "or2", "backends": {"or2": {"type": "openrouter", "api_key": OR_FILE_KEY}}})
    config = load_config({"config": str(path)}, {"OPENROUTER_API_KEY": OR_ENV_KEY})
    assert list(config.backends) == ["or2"]
    assert config.backends["or2"].upstream_keys() == (OR_FILE_KEY,)


def test_without_backends_in_the_file_a_default_openrouter_backend_is_created(tmp_path: Path) -> None:
    path = config_file(tmp_path, {"port": 8701})
    config = load_config({"config": str(path)}, {"OPENROUTER_API_KEY": OR_ENV_KEY})
    assert list(config.backends) == ["openrouter"]
    backend = config.backends["openrouter"]
    assert backend.type == "openrouter"
    assert backend.upstream_keys() == (OR_ENV_KEY,)
    assert backend.base_url == "https://openrouter.ai/api/v1"
    assert config.default_backend == "openrouter"


def test_switchyard_api_key_adds_a_default_proxy_key(tmp_path: Path) -> None:
    path = config_file(tmp_path, {"auth": {"api_keys": [{"name": "alice", "key": PROXY_FILE_KEY}]}, "backends": BACKENDS})
    config = load_config({"config": str(path)}, {"SWITCHYARD_API_KEY": PROXY_ENV_KEY})
    assert config.proxy_keys() == {"alice": PROXY_FILE_KEY, "default": PROXY_ENV_KEY}


def test_switchyard_api_key_without_auth_section(tmp_path: Path) -> None:
    path = config_file(tmp_path, {"backends": BACKENDS})
    config = load_config({"config": str(path)}, {"SWITCHYARD_API_KEY": PROXY_ENV_KEY})
    assert config.proxy_keys() == {"default": PROXY_ENV_KEY}


def test_switchyard_api_key_with_empty_key_list(tmp_path: Path) -> None:
    path = config_file(tmp_path, "auth:\n  api_keys:\n" + yaml.safe_dump({"backends": BACKENDS}))
    config = load_config({"config": str(path)}, {"SWITCHYARD_API_KEY": PROXY_ENV_KEY})
    assert config.proxy_keys() == {"default": PROXY_ENV_KEY}


@pytest.mark.parametrize(
    "keys",
    [
        [{"name": "default", "key": PROXY_FILE_KEY}],
        [{"name": "alice", "key": PROXY_FILE_KEY}, {"name": "default", "key": PROXY_FILE_KEY + "-2"}],
    ],
)
def test_switchyard_api_key_and_a_file_key_named_default_conflict(tmp_path: Path, keys: list[dict[str, str]]) -> None:
    path = config_file(tmp_path, {"auth": {"api_keys": keys}, "backends": BACKENDS})
    error = load_error({"config": str(path)}, {"SWITCHYARD_API_KEY": PROXY_ENV_KEY})
    text = assert_clean(error)
    assert text.startswith("SWITCHYARD_API_KEY: auth.api_keys: ")
    assert "'default'" in text
    assert (error.where, error.key) == ("SWITCHYARD_API_KEY", "auth.api_keys")
    # Without the variable the same file is fine.
    assert load_config({"config": str(path)}, {}).proxy_keys()["default"].startswith(PROXY_FILE_KEY)


def test_blank_environment_variables_are_unset(tmp_path: Path, cwd: Path) -> None:
    write(cwd / "config.yaml", {"port": 8801, "host": "10.2.2.2", "force_model": "fm", "log_level": "warning",
                                "default_backend": "a", "disable_auth": True, "backends": BACKENDS})
    env = {name: "" for name in (
        "SWITCHYARD_CONFIG", "SWITCHYARD_HOST", "SWITCHYARD_PORT", "SWITCHYARD_DEFAULT_BACKEND", "SWITCHYARD_FORCE_MODEL",
        "SWITCHYARD_LOG_LEVEL", "SWITCHYARD_DISABLE_AUTH", "SWITCHYARD_API_KEY", "OPENROUTER_API_KEY",
    )}
    config = load_config({}, env)
    assert (config.port, config.host, config.force_model, config.log_level) == (8801, "10.2.2.2", "fm", "warning")
    assert config.default_backend == "a"
    assert config.disable_auth is True
    assert config.proxy_keys() == {}
    assert config.backends["openrouter"].upstream_keys() == (OR_FILE_KEY,)


@pytest.mark.parametrize(
    "variable",
    ["SWITCHYARD_HOST", "SWITCHYARD_PORT", "SWITCHYARD_DEFAULT_BACKEND", "SWITCHYARD_FORCE_MODEL",
     "SWITCHYARD_LOG_LEVEL", "SWITCHYARD_DISABLE_AUTH", "SWITCHYARD_API_KEY", "OPENROUTER_API_KEY"],
)
def test_whitespace_only_environment_variables_are_blank_too(tmp_path: Path, variable: str) -> None:
    path = config_file(tmp_path, {"port": 8802, "host": "10.3.3.3", "force_model": "fm", "log_level": "warning",
                                  "default_backend": "a", "backends": BACKENDS})
    config = load_config({"config": str(path)}, {variable: " \t "})
    assert (config.port, config.host, config.force_model, config.log_level) == (8802, "10.3.3.3", "fm", "warning")
    assert config.default_backend == "a"
    assert config.disable_auth is False
    assert config.proxy_keys() == {}
    assert config.backends["openrouter"].upstream_keys() == (OR_FILE_KEY,)


def test_whitespace_only_switchyard_config_falls_back_to_dot_config_yaml(cwd: Path) -> None:
    write(cwd / "config.yaml", {"port": 8803, "backends": BACKENDS})
    assert load_config({}, {"SWITCHYARD_CONFIG": "   "}).port == 8803


@pytest.mark.parametrize(
    ("variable", "value"),
    [("SWITCHYARD_PORT", "abc"), ("SWITCHYARD_PORT", "80.5"), ("SWITCHYARD_DISABLE_AUTH", "maybe")],
)
def test_bad_environment_value_names_the_variable(tmp_path: Path, variable: str, value: str) -> None:
    path = config_file(tmp_path, {"backends": BACKENDS})
    error = load_error({"config": str(path)}, {variable: value, "SWITCHYARD_API_KEY": PROXY_ENV_KEY})
    text = assert_clean(error)
    assert variable in text
    assert str(path) not in text  # the file is not to blame
