"""Loading the configuration (src/core/settings.py): layers, variables, and one-line ConfigErrors.

Every test passes its own `environ` mapping and runs in its own working directory, so neither the
real environment nor a ./config.yaml elsewhere can change the outcome.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from src.core.config import Config
from src.core.errors import ConfigError
from src.core.settings import EnvSettings, describe, expand_variables, load_config, merge_layers, read_yaml

OR_FILE_KEY = "sk-or-file-secret-0001"
OR_ENV_KEY = "sk-or-env-secret-0001"
PROXY_FILE_KEY = "sy-proxy-file-secret-0001"
PROXY_ENV_KEY = "sy-proxy-env-secret-0001"
LOCAL_KEY = "sk-local-secret-0001"
SECRETS = (OR_FILE_KEY, OR_ENV_KEY, PROXY_FILE_KEY, PROXY_ENV_KEY, LOCAL_KEY)

BACKENDS = {
    "openrouter": {"type": "openrouter", "api_key": OR_FILE_KEY},
    "a": {"type": "openai", "base_url": "http://127.0.0.1:9/a"},
    "b": {"type": "openai", "base_url": "http://127.0.0.1:9/b"},
    "c": {"type": "openai", "base_url": "http://127.0.0.1:9/c", "api_key": LOCAL_KEY},
}


@pytest.fixture(autouse=True)
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test runs in an empty directory: no ./config.yaml unless the test writes one."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def write(path: Path, content: dict[str, Any] | str) -> Path:
    path.write_text(content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False), encoding="utf-8")
    return path


def config_file(tmp_path: Path, content: dict[str, Any] | str, name: str = "switchyard.yaml") -> Path:
    return write(tmp_path / name, content)


def load_error(cli: dict[str, Any] | None = None, environ: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_config(cli or {}, environ or {})
    return caught.value


def assert_clean(error: ConfigError) -> str:
    """The one-line, secret-free contract every ConfigError keeps."""
    text = str(error)
    assert text
    assert "\n" not in text and "\r" not in text
    for secret in SECRETS:
        assert secret not in text
    return text


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
    assert config.backends["openrouter"].keys() == (OR_ENV_KEY,)


def test_shipped_config_loads() -> None:
    shipped = Path(__file__).resolve().parents[2] / "config.yaml"
    config = load_config({"config": str(shipped)}, {"OPENROUTER_API_KEY": OR_ENV_KEY})
    assert config.default_backend == "openrouter"
    assert config.backends["openrouter"].keys() == (OR_ENV_KEY,)
    assert config.backends["local"].base_url == "http://127.0.0.1:11434/v1"
    assert config.model_aliases[0].pattern == "^gpt-(.*)"


# --- ${VAR} expansion -----------------------------------------------------------------------------------------


def test_variables_are_expanded_in_nested_values_and_lists(tmp_path: Path) -> None:
    path = config_file(
        tmp_path,
        {
            "port": "${PORT_VAR}",
            "identity": {"title": "${TITLE:-Default Title}", "user_agent": "ua/${UA_VERSION}-${UA_SUFFIX:-x}"},
            "auth": {"api_keys": [{"name": "alice", "key": "${ALICE_KEY}"}]},
            "backends": {
                "openrouter": {"type": "openrouter", "api_keys": ["${OR_K1}", "${OR_K2:-sk-or-fallback}"]},
                "local": {"type": "openai", "base_url": "${LOCAL_URL:-http://127.0.0.1:11434/v1}"},
            },
            "model_aliases": [{"pattern": "^${PREFIX}-(.*)", "replacement": "openrouter:${VENDOR}/\\1"}],
        },
    )
    env = {"PORT_VAR": "8601", "UA_VERSION": "2", "ALICE_KEY": PROXY_FILE_KEY, "OR_K1": "sk-or-k1", "PREFIX": "gpt", "VENDOR": "openai"}
    config = load_config({"config": str(path)}, env)
    assert config.port == 8601
    assert config.identity.title == "Default Title"
    assert config.identity.user_agent == "ua/2-x"
    assert config.proxy_keys() == {"alice": PROXY_FILE_KEY}
    assert config.backends["openrouter"].keys() == ("sk-or-k1", "sk-or-fallback")
    assert config.backends["local"].base_url == "http://127.0.0.1:11434/v1"
    assert config.model_aliases[0].pattern == "^gpt-(.*)"
    assert config.model_aliases[0].replacement == "openrouter:openai/\\1"


def test_variable_set_beats_its_default(tmp_path: Path) -> None:
    path = config_file(tmp_path, {"identity": {"title": "${TITLE:-Default}"}, "backends": BACKENDS})
    assert load_config({"config": str(path)}, {"TITLE": "Mine"}).identity.title == "Mine"


def test_empty_default_is_allowed(tmp_path: Path) -> None:
    path = config_file(tmp_path, {"identity": {"title": "x${NOPE:-}y"}, "backends": BACKENDS})
    assert load_config({"config": str(path)}, {}).identity.title == "xy"


@pytest.mark.parametrize(
    ("tree", "key", "variable"),
    [
        ({"identity": {"user_agent": "${UA_UNSET}"}}, "identity.user_agent", "UA_UNSET"),
        ({"auth": {"api_keys": [{"name": "a", "key": "${PROXY_UNSET}"}]}}, "auth.api_keys.0.key", "PROXY_UNSET"),
        ({"model_aliases": [{"pattern": "x", "replacement": "y"}, {"pattern": "^${P_UNSET}$", "replacement": "y"}]},
         "model_aliases.1.pattern", "P_UNSET"),
    ],
)
def test_unset_variable_without_default_names_the_key_and_variable(
    tmp_path: Path, tree: dict[str, Any], key: str, variable: str
) -> None:
    path = config_file(tmp_path, {**tree, "backends": BACKENDS})
    error = load_error({"config": str(path)}, {})
    text = assert_clean(error)
    assert str(path) in text
    assert key in text
    assert variable in text
    assert error.key == key


def test_unset_variable_in_a_list_names_its_index(tmp_path: Path) -> None:
    backends = {**BACKENDS, "openrouter": {"type": "openrouter", "api_keys": ["sk-or-1", "${OR_SECOND}"]}}
    path = config_file(tmp_path, {"backends": backends})
    error = load_error({"config": str(path)}, {})
    assert error.key == "backends.openrouter.api_keys.1"
    assert "OR_SECOND" in assert_clean(error)


def test_blank_variable_counts_as_unset_in_the_file(tmp_path: Path) -> None:
    with_default = config_file(tmp_path, {"identity": {"title": "${BLANK:-fallback}"}, "backends": BACKENDS}, "d.yaml")
    assert load_config({"config": str(with_default)}, {"BLANK": ""}).identity.title == "fallback"
    without = config_file(tmp_path, {"identity": {"title": "${BLANK}"}, "backends": BACKENDS}, "n.yaml")
    assert "BLANK" in assert_clean(load_error({"config": str(without)}, {"BLANK": ""}))


def test_expand_variables_directly() -> None:
    tree = {
        "a": "${X}",
        "b": ["${Y:-why}", {"c": "pre-${X}-post"}, 3],
        "d": None,
        "e": True,
        "f": 1.5,
        "g": "no variables here $X {X}",
    }
    expanded = expand_variables(tree, {"X": "ex"}, "f.yaml")
    assert expanded == {"a": "ex", "b": ["why", {"c": "pre-ex-post"}, 3], "d": None, "e": True, "f": 1.5, "g": "no variables here $X {X}"}
    assert tree["a"] == "${X}"  # the input is left alone


def test_expand_variables_error_names_where_key_and_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        expand_variables({"outer": {"list": ["ok", {"inner": "${MISSING_VAR}"}]}}, {}, "some.yaml")
    assert caught.value.where == "some.yaml"
    assert caught.value.key == "outer.list.1.inner"
    text = assert_clean(caught.value)
    assert text.startswith("some.yaml: outer.list.1.inner: ")
    assert "MISSING_VAR" in text


# --- environment-only settings --------------------------------------------------------------------------------


def test_openrouter_api_key_overrides_the_file_key(tmp_path: Path) -> None:
    path = config_file(tmp_path, {"backends": BACKENDS})
    config = load_config({"config": str(path)}, {"OPENROUTER_API_KEY": OR_ENV_KEY})
    assert config.backends["openrouter"].keys() == (OR_ENV_KEY,)
    assert config.backends["c"].keys() == (LOCAL_KEY,)  # other backends are left alone
    assert OR_FILE_KEY not in config.secrets()


def test_openrouter_api_key_replaces_api_keys(tmp_path: Path) -> None:
    backends = {**BACKENDS, "openrouter": {"type": "openrouter", "api_keys": ["sk-or-r1", "sk-or-r2"]}}
    path = config_file(tmp_path, {"backends": backends})
    config = load_config({"config": str(path)}, {"OPENROUTER_API_KEY": OR_ENV_KEY})
    assert config.backends["openrouter"].keys() == (OR_ENV_KEY,)


def test_openrouter_api_key_fills_a_backend_without_key(tmp_path: Path) -> None:
    path = config_file(tmp_path, {"backends": {"openrouter": {"type": "openrouter"}}})
    config = load_config({"config": str(path)}, {"OPENROUTER_API_KEY": OR_ENV_KEY})
    assert config.backends["openrouter"].keys() == (OR_ENV_KEY,)


def test_openrouter_api_key_only_touches_the_backend_named_openrouter(tmp_path: Path) -> None:
    path = config_file(tmp_path, {"default_backend": "or2", "backends": {"or2": {"type": "openrouter", "api_key": OR_FILE_KEY}}})
    config = load_config({"config": str(path)}, {"OPENROUTER_API_KEY": OR_ENV_KEY})
    assert list(config.backends) == ["or2"]
    assert config.backends["or2"].keys() == (OR_FILE_KEY,)


def test_without_backends_in_the_file_a_default_openrouter_backend_is_created(tmp_path: Path) -> None:
    path = config_file(tmp_path, {"port": 8701})
    config = load_config({"config": str(path)}, {"OPENROUTER_API_KEY": OR_ENV_KEY})
    assert list(config.backends) == ["openrouter"]
    backend = config.backends["openrouter"]
    assert backend.type == "openrouter"
    assert backend.keys() == (OR_ENV_KEY,)
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
    assert config.backends["openrouter"].keys() == (OR_FILE_KEY,)


@pytest.mark.parametrize(
    "variable",
    ["SWITCHYARD_HOST", "SWITCHYARD_PORT", "SWITCHYARD_DEFAULT_BACKEND", "SWITCHYARD_FORCE_MODEL",
     "SWITCHYARD_LOG_LEVEL", "SWITCHYARD_API_KEY", "OPENROUTER_API_KEY"],
)
def test_whitespace_only_environment_variables_are_blank_too(tmp_path: Path, variable: str) -> None:
    path = config_file(tmp_path, {"port": 8802, "host": "10.3.3.3", "force_model": "fm", "log_level": "warning",
                                  "default_backend": "a", "backends": BACKENDS})
    config = load_config({"config": str(path)}, {variable: "   "})
    assert (config.port, config.host, config.force_model, config.log_level) == (8802, "10.3.3.3", "fm", "warning")
    assert config.default_backend == "a"
    assert config.proxy_keys() == {}
    assert config.backends["openrouter"].keys() == (OR_FILE_KEY,)


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


# --- ConfigError messages -----------------------------------------------------------------------------------

GOOD_BASE: dict[str, Any] = {
    "auth": {"api_keys": [{"name": "alice", "key": PROXY_FILE_KEY}]},
    "backends": BACKENDS,
}

ERROR_CASES = [
    ("unknown top key", {**GOOD_BASE, "bogus_key": 1}, "bogus_key", "unknown key"),
    ("unknown nested key", {**GOOD_BASE, "auth": {"api_keys": [], "tokens": []}}, "auth.tokens", "unknown key"),
    ("unknown backend key", {**GOOD_BASE, "backends": {**BACKENDS, "c": {**BACKENDS["c"], "api_base": "x"}}},
     "backends.c.api_base", "unknown key"),
    ("unknown alias key", {**GOOD_BASE, "model_aliases": [{"pattern": "a", "replacement": "b", "flags": "i"}]},
     "model_aliases.0.flags", "unknown key"),
    ("wrong type", {**GOOD_BASE, "port": "abc"}, "port", "integer"),
    ("wrong nested type", {**GOOD_BASE, "backends": {**BACKENDS, "c": {**BACKENDS["c"], "timeout": "soon"}}},
     "backends.c.timeout", "number"),
    ("invalid alias regex", {**GOOD_BASE, "model_aliases": [{"pattern": "^gpt-(", "replacement": "x"}]},
     "model_aliases.0.pattern", "regex"),
    ("bad alias group", {**GOOD_BASE, "model_aliases": [{"pattern": "^gpt-(.*)", "replacement": "openrouter:\\2"}]},
     "model_aliases.0.replacement", "group 2"),
    ("default backend not configured", {**GOOD_BASE, "default_backend": "missing_backend"}, "default_backend",
     "missing_backend"),
    ("unknown backend type", {**GOOD_BASE, "backends": {**BACKENDS, "weird": {"type": "anthropic", "base_url": "http://x"}}},
     "backends.weird.type", "anthropic"),
    ("missing openrouter key", {**GOOD_BASE, "backends": {**BACKENDS, "openrouter": {"type": "openrouter"}}},
     "backends.openrouter.api_key", "OPENROUTER_API_KEY"),
    ("api_key and api_keys", {**GOOD_BASE, "backends": {**BACKENDS, "c": {**BACKENDS["c"], "api_keys": [LOCAL_KEY + "x"]}}},
     "backends.c", "not both"),
    ("bad base_url", {**GOOD_BASE, "backends": {**BACKENDS, "c": {**BACKENDS["c"], "base_url": "127.0.0.1:9"}}},
     "backends.c.base_url", "http"),
    ("bad backend name", {**GOOD_BASE, "backends": {**BACKENDS, "or:x": BACKENDS["a"]}}, "backends", "or:x"),
    ("bad log level", {**GOOD_BASE, "log_level": "verbose"}, "log_level", "debug"),
]


@pytest.mark.parametrize(("tree", "key", "detail"), [c[1:] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES])
def test_config_error_names_the_file_and_the_key(tmp_path: Path, tree: dict[str, Any], key: str, detail: str) -> None:
    path = config_file(tmp_path, tree)
    error = load_error({"config": str(path)}, {})
    text = assert_clean(error)
    assert text.startswith(f"{path}: {key}: ")
    assert detail in text
    assert error.where == str(path)
    assert error.key == key


def test_unknown_key_message(tmp_path: Path) -> None:
    path = config_file(tmp_path, {**GOOD_BASE, "identity": {"titel": "x"}})
    assert str(load_error({"config": str(path)})) == f"{path}: identity.titel: unknown key"


def test_missing_openrouter_key_without_any_file() -> None:
    error = load_error({}, {})
    text = assert_clean(error)
    assert error.key == "backends.openrouter.api_key"
    assert "OPENROUTER_API_KEY" in text


def test_missing_openrouter_key_from_unset_variable_in_the_file(tmp_path: Path) -> None:
    backends = {**BACKENDS, "openrouter": {"type": "openrouter", "api_key": "${OPENROUTER_API_KEY}"}}
    path = config_file(tmp_path, {"backends": backends})
    error = load_error({"config": str(path)}, {})
    assert error.key == "backends.openrouter.api_key"
    assert "OPENROUTER_API_KEY" in assert_clean(error)


def test_malformed_yaml_names_the_file_and_the_line(tmp_path: Path) -> None:
    path = config_file(tmp_path, "host: 127.0.0.1\nport: 8000\nbackends: {a: b: c}\n")
    error = load_error({"config": str(path)})
    text = assert_clean(error)
    assert text.startswith(f"{path}: line 3")
    assert "malformed YAML" in text


def test_malformed_yaml_unclosed_bracket(tmp_path: Path) -> None:
    path = config_file(tmp_path, f"auth:\n  api_keys: [{{name: a, key: {PROXY_FILE_KEY}}}\nport: 1\n")
    text = assert_clean(load_error({"config": str(path)}))
    assert str(path) in text
    assert "line " in text


@pytest.mark.parametrize("content", ["- a\n- b\n", "just a string\n", "42\n"])
def test_top_level_must_be_a_mapping(tmp_path: Path, content: str) -> None:
    path = config_file(tmp_path, content)
    error = load_error({"config": str(path)})
    text = assert_clean(error)
    assert text.startswith(f"{path}: ")
    assert "mapping" in text


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"port: \xff\xfe\n")
    text = assert_clean(load_error({"config": str(path)}))
    assert str(path) in text


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


# --- secrets never appear in messages ------------------------------------------------------------------------


def test_swapped_base_url_and_key_does_not_leak_the_key(tmp_path: Path) -> None:
    backends = {"openrouter": {"type": "openrouter", "base_url": "${OPENROUTER_API_KEY}", "api_key": "https://openrouter.ai/api/v1"}}
    path = config_file(tmp_path, {"backends": backends})
    error = load_error({"config": str(path)}, {"OPENROUTER_API_KEY": OR_ENV_KEY})
    assert error.key == "backends.openrouter.base_url"
    assert_clean(error)


def test_unknown_key_containing_a_newline_still_gives_one_line(tmp_path: Path) -> None:
    path = config_file(tmp_path, '"bad\\nkey": 1\n' + yaml.safe_dump(GOOD_BASE))
    assert_clean(load_error({"config": str(path)}))


# --- the helpers directly ------------------------------------------------------------------------------------


def test_read_yaml(tmp_path: Path) -> None:
    assert read_yaml(config_file(tmp_path, "port: 1\nauth: {api_keys: []}\n", "ok.yaml")) == {"port": 1, "auth": {"api_keys": []}}
    assert read_yaml(config_file(tmp_path, "", "empty.yaml")) == {}
    with pytest.raises(ConfigError) as caught:
        read_yaml(config_file(tmp_path, "a: 1\n  b: 2\n", "bad.yaml"))
    assert caught.value.where == str(tmp_path / "bad.yaml")
    assert caught.value.key.startswith("line 2")
    with pytest.raises(ConfigError, match="mapping"):
        read_yaml(config_file(tmp_path, "[1, 2]\n", "list.yaml"))


def test_read_yaml_does_not_construct_python_objects(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        read_yaml(config_file(tmp_path, "x: !!python/object/apply:os.getcwd []\n"))
    assert "\n" not in str(caught.value)


def test_merge_layers_reports_origins_and_leaves_the_file_alone() -> None:
    file = {"host": "10.0.0.1", "port": 1, "backends": {"openrouter": {"type": "openrouter", "api_keys": ["sk-or-x"]}},
            "auth": {"api_keys": [{"name": "alice", "key": PROXY_FILE_KEY}]}}
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
    assert origins == {"host": "SWITCHYARD_HOST", "port": "--port", "force_model": "SWITCHYARD_FORCE_MODEL", "log_level": "--log-level"}
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


def _describe(data: dict[str, Any]) -> tuple[str, str]:
    with pytest.raises(ValidationError) as caught:
        Config.model_validate(data)
    return describe(caught.value)


def test_describe() -> None:
    local = {"type": "openai", "base_url": "http://x"}
    assert _describe({"backends": {"l": local}, "default_backend": "l", "auth": {"bogus": 1}}) == ("auth.bogus", "unknown key")
    key, message = _describe({"backends": {"x": {"type": "weird", "base_url": "http://x"}}, "default_backend": "x"})
    assert key == "backends.x.type"
    assert "'weird'" in message and "openai" in message and "openrouter" in message
    key, message = _describe({"backends": {"x": {"base_url": "http://x"}}, "default_backend": "x"})
    assert key == "backends.x.type"
    assert "missing" in message
    key, message = _describe({"backends": {"openrouter": {"type": "openrouter"}}})
    assert key == "backends.openrouter.api_key"
    assert "OPENROUTER_API_KEY" in message and not message.startswith("api_key")
    assert _describe({"backends": {"l": {"type": "openai"}}, "default_backend": "l"}) == ("backends.l.base_url", "required key is missing")
    key, message = _describe({"backends": {"l": local}, "default_backend": "zz"})
    assert key == "default_backend"
    assert message.startswith("'zz' is not a configured backend")
    key, message = _describe({"backends": {"l": local}, "default_backend": "l", "model_aliases": [{"pattern": "(", "replacement": "x"}]})
    assert key == "model_aliases.0.pattern"
    assert message.startswith("invalid regex")
