"""Loading the configuration (src/config/loading.py): which file, and CLI > environment > file > defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from src.config.loading import EnvSettings, load_config, merge_layers
from tests.config.config_helpers import openai_backend
from tests.config.loading_helpers import (
    BACKENDS,
    OR_ENV_KEY,
    PROXY_ENV_KEY,
    PROXY_FILE_KEY,
    assert_clean,
    config_file,
    load_error,
    write,
)

pytestmark = pytest.mark.usefixtures("cwd")


# --- precedence: CLI > environment > file > defaults ------------------------------------------------------

PRECEDENCE = [
    # key, default, file value, env variable value, env parsed, cli value
    ("host", "127.0.0.1", "10.0.0.1", "10.0.0.2", "10.0.0.2", "10.0.0.3"),
    ("port", 8000, 8101, "8102", 8102, 8103),
    ("default_backend", "openrouter", "a", "b", "b", "c"),
    ("force_model", None, "model-file", "model-env", "model-env", "model-cli"),
    ("log_level", "info", "warning", "ERROR", "error", "debug"),
]


@pytest.mark.parametrize(("key", "default", "in_file", "env_raw", "in_env", "in_cli"), PRECEDENCE, ids=[p[0] for p in PRECEDENCE])
def test_precedence_cli_over_env_over_file_over_defaults(
    tmp_path: Path, key: str, default: Any, in_file: Any, env_raw: str, in_env: Any, in_cli: Any
) -> None:
    variable = f"SWITCHYARD_{key.upper()}"
    bare = config_file(tmp_path, {"backends": BACKENDS}, "bare.yaml")
    full = config_file(tmp_path, {key: in_file, "backends": BACKENDS}, "full.yaml")

    assert getattr(load_config({"config": str(bare)}, {}), key) == default
    assert getattr(load_config({"config": str(full)}, {}), key) == in_file
    assert getattr(load_config({"config": str(full)}, {variable: env_raw}), key) == in_env
    assert getattr(load_config({"config": str(full), key: in_cli}, {variable: env_raw}), key) == in_cli
    # A flag that was not given (None) does not override anything.
    assert getattr(load_config({"config": str(full), key: None}, {variable: env_raw}), key) == in_env


def test_precedence_for_disable_auth(tmp_path: Path) -> None:
    bare = config_file(tmp_path, {"backends": BACKENDS}, "bare.yaml")
    on = config_file(tmp_path, {"disable_auth": True, "backends": BACKENDS}, "on.yaml")
    off = config_file(tmp_path, {"disable_auth": False, "backends": BACKENDS}, "off.yaml")

    assert load_config({"config": str(bare)}, {}).disable_auth is False
    assert load_config({"config": str(on)}, {}).disable_auth is True
    assert load_config({"config": str(on)}, {"SWITCHYARD_DISABLE_AUTH": "false"}).disable_auth is False
    assert load_config({"config": str(off)}, {"SWITCHYARD_DISABLE_AUTH": "1"}).disable_auth is True
    cli = {"config": str(off), "disable_auth": True}
    assert load_config(cli, {"SWITCHYARD_DISABLE_AUTH": "false"}).disable_auth is True
    assert load_config({"config": str(on), "disable_auth": None}, {"SWITCHYARD_DISABLE_AUTH": "0"}).disable_auth is False


def test_layers_combine_per_key(tmp_path: Path) -> None:
    path = config_file(tmp_path, {"host": "10.1.1.1", "port": 8201, "default_backend": "a", "backends": BACKENDS})
    config = load_config({"config": str(path), "default_backend": "c"}, {"SWITCHYARD_PORT": "8202"})
    assert (config.host, config.port, config.default_backend) == ("10.1.1.1", 8202, "c")


# --- which file ----------------------------------------------------------------------------------------------


def test_switchyard_config_selects_the_file(tmp_path: Path) -> None:
    path = config_file(tmp_path, {"port": 8301, "backends": BACKENDS})
    assert load_config({}, {"SWITCHYARD_CONFIG": str(path)}).port == 8301


def test_config_flag_beats_switchyard_config(tmp_path: Path) -> None:
    from_env = config_file(tmp_path, {"port": 8401, "backends": BACKENDS}, "env.yaml")
    from_cli = config_file(tmp_path, {"port": 8402, "backends": BACKENDS}, "cli.yaml")
    assert load_config({"config": str(from_cli)}, {"SWITCHYARD_CONFIG": str(from_env)}).port == 8402


def test_config_flag_beats_a_missing_switchyard_config(tmp_path: Path) -> None:
    from_cli = config_file(tmp_path, {"port": 8403, "backends": BACKENDS}, "cli.yaml")
    config = load_config({"config": str(from_cli)}, {"SWITCHYARD_CONFIG": str(tmp_path / "missing.yaml")})
    assert config.port == 8403


def test_dot_config_yaml_is_used_when_nothing_names_a_file(cwd: Path) -> None:
    write(cwd / "config.yaml", {"port": 8501, "backends": BACKENDS})
    assert load_config({}, {}).port == 8501
    assert load_config({"config": None}, {"SWITCHYARD_CONFIG": ""}).port == 8501


def test_named_file_beats_dot_config_yaml(tmp_path: Path, cwd: Path) -> None:
    write(cwd / "config.yaml", {"port": 8502, "backends": BACKENDS})
    named = config_file(tmp_path, {"port": 8503, "backends": BACKENDS})
    assert load_config({}, {"SWITCHYARD_CONFIG": str(named)}).port == 8503
    assert load_config({"config": str(named)}, {}).port == 8503


def test_without_any_file_the_built_in_defaults_apply() -> None:
    config = load_config({}, {"OPENROUTER_API_KEY": OR_ENV_KEY})
    assert (config.host, config.port, config.default_backend, config.log_level) == ("127.0.0.1", 8000, "openrouter", "info")
    assert list(config.backends) == ["openrouter"]


@pytest.mark.parametrize("via", ["cli", "env"])
def test_missing_explicit_file_is_a_config_error(tmp_path: Path, cwd: Path, via: str) -> None:
    write(cwd / "config.yaml", {"backends": BACKENDS})  # must not be used as a fallback
    missing = tmp_path / "nope" / "missing.yaml"
    cli, env = ({"config": str(missing)}, {}) if via == "cli" else ({}, {"SWITCHYARD_CONFIG": str(missing)})
    error = load_error(cli, env)
    text = assert_clean(error)
    assert str(missing) in text
    assert "not found" in text


def test_a_directory_is_not_a_config_file(tmp_path: Path) -> None:
    text = assert_clean(load_error({"config": str(tmp_path)}))
    assert str(tmp_path) in text


def test_empty_file_means_defaults(tmp_path: Path) -> None:
    path = config_file(tmp_path, "# nothing but a comment\n")
    config = load_config({"config": str(path)}, {"OPENROUTER_API_KEY": OR_ENV_KEY})
    assert config.port == 8000
    assert config.backends["openrouter"].upstream_keys() == (OR_ENV_KEY,)


def test_shipped_config_loads() -> None:
    shipped = Path(__file__).resolve().parents[2] / "config.yaml"
    config = load_config({"config": str(shipped)}, {"OPENROUTER_API_KEY": OR_ENV_KEY})
    assert config.default_backend == "openrouter"
    assert config.backends["openrouter"].upstream_keys() == (OR_ENV_KEY,)
    assert openai_backend(config, "local").base_url == "http://127.0.0.1:11434/v1"
    assert config.model_aliases[0].pattern == "^gpt-(.*)"


# --- where an override came from --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cli", "env", "where", "key"),
    [
        ({"default_backend": "nope"}, {}, "--default-backend", "default_backend"),
        ({}, {"SWITCHYARD_DEFAULT_BACKEND": "nope"}, "SWITCHYARD_DEFAULT_BACKEND", "default_backend"),
        ({"default_backend": "nope"}, {"SWITCHYARD_DEFAULT_BACKEND": "a"}, "--default-backend", "default_backend"),
        ({"port": 0}, {}, "--port", "port"),
        ({}, {"SWITCHYARD_PORT": "70000"}, "SWITCHYARD_PORT", "port"),
        ({"log_level": "loud"}, {}, "--log-level", "log_level"),
        ({}, {"SWITCHYARD_LOG_LEVEL": "loud"}, "SWITCHYARD_LOG_LEVEL", "log_level"),
    ],
)
def test_override_errors_name_the_flag_or_variable(
    tmp_path: Path, cli: dict[str, Any], env: dict[str, str], where: str, key: str
) -> None:
    path = config_file(tmp_path, {"default_backend": "a", "backends": BACKENDS})
    error = load_error({"config": str(path), **cli}, env)
    text = assert_clean(error)
    assert text.startswith(f"{where}: {key}: ")
    assert error.where == where


def test_error_in_the_file_is_still_blamed_on_the_file_when_other_keys_are_overridden(tmp_path: Path) -> None:
    path = config_file(tmp_path, {"default_backend": "a", "log_level": "verbose", "backends": BACKENDS})
    error = load_error({"config": str(path), "port": 9001}, {"SWITCHYARD_HOST": "127.0.0.1"})
    assert str(error).startswith(f"{path}: log_level: ")


# --- merge_layers directly ------------------------------------------------------------------------------


def test_merge_layers_reports_origins_and_leaves_the_file_alone() -> None:
    file: dict[str, Any] = {
        "host": "10.0.0.1", "port": 1, "backends": {"openrouter": {"type": "openrouter", "api_keys": ["sk-or-x"]}},
        "auth": {"api_keys": [{"name": "alice", "key": PROXY_FILE_KEY}]},
    }  # fmt: skip
    env = EnvSettings.from_environ({
        "SWITCHYARD_HOST": "10.0.0.2", "SWITCHYARD_PORT": "2", "SWITCHYARD_FORCE_MODEL": "fm",
        "OPENROUTER_API_KEY": OR_ENV_KEY, "SWITCHYARD_API_KEY": PROXY_ENV_KEY,
    })
    merged, origins = merge_layers(file, env, {"port": 3, "log_level": "debug"})
    assert merged["host"] == "10.0.0.2"
    assert merged["port"] == 3
    assert merged["force_model"] == "fm"
    assert merged["log_level"] == "debug"
    assert merged["backends"]["openrouter"] == {"type": "openrouter", "api_key": OR_ENV_KEY}
    assert merged["auth"]["api_keys"] == [{"name": "alice", "key": PROXY_FILE_KEY}, {"name": "default", "key": PROXY_ENV_KEY}]
    assert origins == {
        "host": "SWITCHYARD_HOST", "port": "--port", "force_model": "SWITCHYARD_FORCE_MODEL", "log_level": "--log-level",
        "backends.openrouter.api_key": "OPENROUTER_API_KEY", "auth.api_keys.1": "SWITCHYARD_API_KEY",
    }  # fmt: skip
    # the file layer is not modified
    assert file["host"] == "10.0.0.1" and file["port"] == 1
    assert file["backends"]["openrouter"] == {"type": "openrouter", "api_keys": ["sk-or-x"]}
    assert file["auth"]["api_keys"] == [{"name": "alice", "key": PROXY_FILE_KEY}]


def test_merge_layers_without_overrides() -> None:
    merged, origins = merge_layers({"port": 5, "backends": {}}, EnvSettings.from_environ({}), {})
    assert merged == {"port": 5, "backends": {}}
    assert origins == {}


def test_merge_layers_default_backend_when_file_has_none() -> None:
    merged, _ = merge_layers({}, EnvSettings.from_environ({"OPENROUTER_API_KEY": OR_ENV_KEY}), {})
    assert merged["backends"] == {"openrouter": {"type": "openrouter", "api_key": OR_ENV_KEY}}
