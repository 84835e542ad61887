"""The config file itself: YAML parsing, ${VAR} expansion, duplicate keys and null sections."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from src.config import ConfigError
from src.config.loading import load_config
from src.config.yaml_file import expand_variables, read_yaml
from tests.config.config_helpers import openai_backend
from tests.config.loading_helpers import (
    BACKENDS,
    PROXY_FILE_KEY,
    assert_clean,
    config_file,
    load_error,
)

pytestmark = pytest.mark.usefixtures("cwd")


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
    assert config.backends["openrouter"].upstream_keys() == ("sk-or-k1", "sk-or-fallback")
    assert openai_backend(config, "local").base_url == "http://127.0.0.1:11434/v1"
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


# --- malformed files ------------------------------------------------------------------------------------


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


# --- duplicate keys -----------------------------------------------------------------------------------------

BACKENDS_YAML = """\
backends:
  openrouter:
    type: openrouter
    api_key: sk-or-in-file
  a:
    type: openai
    base_url: http://127.0.0.1:9/a
"""


@pytest.mark.parametrize(
    ("content", "line", "key"),
    [
        ("host: 127.0.0.1\nport: 8000\nport: 8001\n" + BACKENDS_YAML, 3, "'port'"),
        (BACKENDS_YAML + "    base_url: http://127.0.0.1:9/other\n", 8, "'base_url'"),
        (BACKENDS_YAML + "  a:\n    type: openai\n    base_url: http://127.0.0.1:9/a2\n", 8, "'a'"),
        ("auth:\n  api_keys:\n    - name: x\n      key: k1\n      name: y\n" + BACKENDS_YAML, 5, "'name'"),
        ("identity: {title: a, title: b}\n" + BACKENDS_YAML, 1, "'title'"),
    ],
    ids=["top level", "in a backend", "backend name", "in a list item", "flow mapping"],
)
def test_duplicate_keys_are_a_config_error(tmp_path: Path, content: str, line: int, key: str) -> None:
    path = config_file(tmp_path, content)
    error = load_error({"config": str(path)})
    text = assert_clean(error)
    assert text.startswith(f"{path}: line {line}, ")
    assert "duplicate key" in text
    assert key in text
    assert error.where == str(path)


def test_equal_keys_in_different_mappings_are_not_duplicates(tmp_path: Path) -> None:
    path = config_file(tmp_path, "identity:\n  title: t\n" + BACKENDS_YAML + "  b:\n    type: openai\n    base_url: http://127.0.0.1:9/b\n")
    config = load_config({"config": str(path)})
    assert openai_backend(config, "a").base_url == "http://127.0.0.1:9/a"
    assert openai_backend(config, "b").base_url == "http://127.0.0.1:9/b"


def test_yaml_merge_keys_are_not_duplicates(tmp_path: Path) -> None:
    # `<<: *anchor` is the YAML way to share settings between backends; the key given next to it wins.
    content = """\
backends:
  openrouter: {type: openrouter, api_key: sk-or-in-file}
  a: &shared
    type: openai
    base_url: http://127.0.0.1:9/a
    timeout: 30
  b:
    <<: *shared
    base_url: http://127.0.0.1:9/b
"""
    config = load_config({"config": str(config_file(tmp_path, content))})
    assert openai_backend(config, "b").base_url == "http://127.0.0.1:9/b"
    assert openai_backend(config, "b").timeout == 30
    assert openai_backend(config, "a").base_url == "http://127.0.0.1:9/a"


# --- sections left empty ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "section",
    [
        "auth:\n  # api_keys:\n  #   - name: alice\n  #     key: sk-...\n",
        "identity:\n  # title: My App\n",
        "model_aliases:\n  # - pattern: ^fast$\n  #   replacement: openrouter:openai/gpt-4o-mini\n",
        "host:\nport:\nlog_level:\nforce_model:\n",
    ],
    ids=["auth", "identity", "model_aliases", "scalars"],
)
def test_a_section_left_null_counts_as_absent(tmp_path: Path, section: str) -> None:
    path = config_file(tmp_path, section + BACKENDS_YAML)
    config = load_config({"config": str(path)})
    assert config.proxy_keys() == {}
    assert (config.identity.title, config.model_aliases) == (None, [])
    assert (config.host, config.port, config.log_level, config.force_model) == ("127.0.0.1", 8000, "info", None)


def test_a_null_backends_section_gets_the_default_openrouter_backend(tmp_path: Path) -> None:
    path = config_file(tmp_path, "backends:\n  # local:\n  #   type: openai\n")
    config = load_config({"config": str(path)}, {"OPENROUTER_API_KEY": "sk-or-from-env"})
    assert list(config.backends) == ["openrouter"]
    assert config.backends["openrouter"].upstream_keys() == ("sk-or-from-env",)


def test_a_null_auth_section_takes_switchyard_api_key(tmp_path: Path) -> None:
    path = config_file(tmp_path, "auth:\n  # nothing here yet\n" + BACKENDS_YAML)
    config = load_config({"config": str(path)}, {"SWITCHYARD_API_KEY": "sy-env-key"})
    assert config.proxy_keys() == {"default": "sy-env-key"}
