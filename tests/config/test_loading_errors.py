"""ConfigError: one line, naming the file (or variable, or flag) and the key, never a secret."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from src.config import Config, ConfigError
from src.config.loading import describe
from tests.config.loading_helpers import (
    BACKENDS,
    LOCAL_KEY,
    OR_ENV_KEY,
    PROXY_FILE_KEY,
    assert_clean,
    config_file,
    load_error,
)

pytestmark = pytest.mark.usefixtures("cwd")


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
     "model_aliases.0.replacement", "invalid group reference 2"),
    ("unknown alias group name",
     {**GOOD_BASE, "model_aliases": [{"pattern": "^(?P<name>.*)", "replacement": "openrouter:\\g<nmae>"}]},
     "model_aliases.0.replacement", "unknown group name 'nmae'"),
    ("bad alias escape", {**GOOD_BASE, "model_aliases": [{"pattern": "^gpt-(.*)", "replacement": "openrouter:\\q"}]},
     "model_aliases.0.replacement", "bad escape \\q"),
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
    ("base_url with credentials",
     {**GOOD_BASE, "backends": {**BACKENDS, "c": {**BACKENDS["c"], "base_url": f"http://u:{LOCAL_KEY}@127.0.0.1:9"}}},
     "backends.c.base_url", "credentials"),
    ("base_url with a bad port",
     {**GOOD_BASE, "backends": {**BACKENDS, "c": {**BACKENDS["c"], "base_url": "http://127.0.0.1:99999/v1"}}},
     "backends.c.base_url", "invalid port"),
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


# --- describe ----------------------------------------------------------------------------------------


def _describe(data: dict[str, Any]) -> tuple[str, str]:
    with pytest.raises(ValidationError) as caught:
        Config.model_validate(data)
    return describe(caught.value)[0]


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


# --- ConfigError itself ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "key", "message", "expected"),
    [
        ("f.yaml", "port", "bad", "f.yaml: port: bad"),
        ("f.yaml", "", "bad", "f.yaml: bad"),
        ("f.yaml", "a.b", "first line\nsecond line", "f.yaml: a.b: first line second line"),
        ("f.yaml", "a", "one\r\ntwo\rthree", "f.yaml: a: one two three"),
        ("ENV_VAR", "multi\nline key", "m", "ENV_VAR: multi line key: m"),
    ],
)
def test_config_error_text_is_always_one_line(where: str, key: str, message: str, expected: str) -> None:
    error = ConfigError(where, key, message)
    assert str(error) == expected
    assert (error.where, error.key) == (where, key)
