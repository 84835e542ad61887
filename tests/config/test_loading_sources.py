"""Where each setting and each problem comes from: every problem at once, blamed on its own flag,
variable or file; the guide's identity forms; a relative database beside its config file."""

from __future__ import annotations

from pathlib import Path

import pytest

from src.config import HeaderRule, load_config
from tests.config.loading_helpers import BACKENDS, PROXY_FILE_KEY, config_file, load_error

pytestmark = pytest.mark.usefixtures("cwd")
GOOD = {"auth": {"api_keys": [{"name": "alice", "key": PROXY_FILE_KEY}]}, "backends": BACKENDS}


def test_a_short_proxy_key_from_the_environment_is_blamed_on_the_variable(tmp_path: Path) -> None:
    path = config_file(tmp_path, GOOD)
    error = load_error({"config": str(path)}, {"SWITCHYARD_API_KEY": "short"})
    assert error.problems == [
        ("SWITCHYARD_API_KEY", "auth.api_keys.1.key", "is shorter than 8 characters: too easy to guess")
    ]


def test_every_problem_is_reported_each_with_its_own_source(tmp_path: Path) -> None:
    path = config_file(tmp_path, {**GOOD, "identity": {"titel": "x"}, "max_request_mb": -1})
    error = load_error({"config": str(path), "port": 0}, {"SWITCHYARD_API_KEY": "short", "SWITCHYARD_LOG_LEVEL": "x"})
    found = {(where, key) for where, key, _ in error.problems}
    assert found == {
        (str(path), "identity.titel"),
        (str(path), "max_request_mb"),
        ("--port", "port"),
        ("SWITCHYARD_LOG_LEVEL", "log_level"),
        ("SWITCHYARD_API_KEY", "auth.api_keys.1.key"),
    }
    assert len(str(error).splitlines()) == len(error.problems)


def test_consistency_problems_come_together(tmp_path: Path) -> None:
    aliases = [{"pattern": "a(.*)", "replacement": "\\2"}, {"pattern": "b", "replacement": "\\g<x>"}]
    path = config_file(tmp_path, {**GOOD, "default_backend": "nowhere", "model_aliases": aliases,
                                  "failover_routes": {"a": ["nowhere:m"]}})  # fmt: skip
    keys = [key for _, key, _ in load_error({"config": str(path)}).problems]
    assert keys == ["default_backend", "model_aliases.0.replacement", "model_aliases.1.replacement", "failover_routes"]


GUIDE = {
    "override": ({"mode": "override", "override_value": "MyApp/1.0.0"}, HeaderRule(override_value="MyApp/1.0.0")),
    "passthrough": (
        {"mode": "passthrough", "default_value": "Fallback/1"},
        HeaderRule(mode="passthrough", default_value="Fallback/1"),
    ),
    "default": ({"mode": "default", "default_value": "Fixed/2"}, HeaderRule(mode="default", default_value="Fixed/2")),
}


@pytest.mark.parametrize("mode", GUIDE)
def test_the_integration_guides_identity_forms_load(tmp_path: Path, mode: str) -> None:
    raw, expected = GUIDE[mode]
    path = config_file(tmp_path, {**GOOD, "identity": {"user_agent": raw, "url": "https://app.example"}})
    identity = load_config({"config": str(path)}, {}).identity
    assert (identity.user_agent, identity.referer) == (expected, "https://app.example")


@pytest.mark.parametrize(
    ("raw", "key", "message"),
    [
        ({"mode": "override"}, "identity.user_agent.override_value", "required with mode override"),
        ({"mode": "default"}, "identity.user_agent.default_value", "required with mode default"),
        ({"mode": "sometimes"}, "identity.user_agent.mode", "'override', 'passthrough' or 'default'"),
        ({"mode": "override", "override_value": "a", "colour": 1}, "identity.user_agent.colour", "unknown key"),
    ],
)
def test_a_bad_identity_form_names_its_key(tmp_path: Path, raw: dict, key: str, message: str) -> None:
    error = load_error({"config": str(config_file(tmp_path, {**GOOD, "identity": {"user_agent": raw}}))})
    assert error.key == key and message in error.problems[0][2]


def test_url_and_referer_together_are_refused(tmp_path: Path) -> None:
    path = config_file(tmp_path, {**GOOD, "identity": {"url": "https://a", "referer": "https://b"}})
    assert load_error({"config": str(path)}).key == "identity.url"


def test_identity_flags_override_the_file_and_are_blamed_for_their_own_problems(tmp_path: Path) -> None:
    path = config_file(tmp_path, {**GOOD, "identity": {"title": "FromFile", "url": "https://file.example"}})
    cli = {"config": str(path), "identity_title": "FromFlag", "identity_referer": "https://flag.example"}
    identity = load_config(cli, {}).identity
    assert (identity.title, identity.referer) == ("FromFlag", "https://flag.example")
    error = load_error({"config": str(path), "identity_user_agent": "bad\nagent"}, {})
    assert (error.where, error.key) == ("--identity-user-agent", "identity.user_agent")


@pytest.mark.parametrize(
    ("database", "expected"),
    [("usage.db", "conf/usage.db"), ("./data/u.db", "conf/data/u.db"), (None, None), ("ABSOLUTE", "ABSOLUTE")],
)
def test_a_relative_database_lies_beside_its_config_file(tmp_path: Path, database: str | None, expected: str | None) -> None:
    folder = tmp_path / "conf"
    folder.mkdir()
    absolute = str(tmp_path / "elsewhere.db")
    value = absolute if database == "ABSOLUTE" else database
    path = config_file(folder, {**GOOD, "usage": {"database": value}})
    got = load_config({"config": str(path)}, {}).usage.database
    want = absolute if expected == "ABSOLUTE" else None if expected is None else str(tmp_path / expected)
    assert got == want


def test_the_default_database_lies_beside_the_config_file_too(tmp_path: Path) -> None:
    path = config_file(tmp_path, GOOD)
    assert load_config({"config": str(path)}, {}).usage.database == str(tmp_path / "switchyard.db")


def test_reports_need_no_upstream_key(tmp_path: Path) -> None:
    path = config_file(tmp_path, {"backends": {"openrouter": {"type": "openrouter"}}})
    assert load_error({"config": str(path)}, {}).key == "backends.openrouter.api_key"
    assert load_config({"config": str(path)}, {}, keys_required=False).backends["openrouter"].upstream_keys() == ()
