"""The failover and hybrid configuration: FailoverConfig, hybrid backends, and failover_routes checked at start-up."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from src.config import Config, ConfigError, FailoverConfig, HybridBackendConfig
from src.config.loading import load_config
from src.core.runtime import router_for
from tests.config.config_helpers import LOCAL, first_error, minimal
from tests.config.loading_helpers import BACKENDS, OR_FILE_KEY, assert_clean, config_file, load_error

pytestmark = pytest.mark.usefixtures("cwd")

HYBRID = {"type": "hybrid", "reasoning_model": "openrouter:deepseek/deepseek-r1", "execution_model": "a:qwen"}
README = Path(__file__).resolve().parents[2] / "README.md"


# --- FailoverConfig -------------------------------------------------------------------------------------------


def test_failover_defaults() -> None:
    policy = Config.model_validate(minimal()).failover
    assert policy == FailoverConfig()
    assert (policy.max_attempts, policy.deadline, policy.max_retry_wait, policy.connect_retries, policy.cooldown) == (
        5,
        300.0,
        5.0,
        2,
        30.0,
    )
    assert Config.model_validate(minimal()).failover_routes == {}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_attempts", 1),
        ("max_attempts", 20),
        ("deadline", 0.5),
        ("max_retry_wait", 0),
        ("max_retry_wait", 60.5),
        ("connect_retries", 0),
        ("connect_retries", 5),
        ("cooldown", 0),
        ("cooldown", 600),
    ],
)
def test_failover_accepts(field: str, value: float) -> None:
    assert getattr(Config.model_validate(minimal(failover={field: value})).failover, field) == value


@pytest.mark.parametrize(
    ("field", "value", "error_type"),
    [
        ("max_attempts", 0, "greater_than_equal"),
        ("max_attempts", 1.5, "int_from_float"),
        ("deadline", 0, "greater_than"),
        ("deadline", -1, "greater_than"),
        ("max_retry_wait", -0.1, "greater_than_equal"),
        ("connect_retries", -1, "greater_than_equal"),
        ("cooldown", -1, "greater_than_equal"),
        ("cooldown", "soon", "float_parsing"),
        ("retries", 3, "extra_forbidden"),
    ],
)
def test_failover_refuses(field: str, value: object, error_type: str) -> None:
    error = first_error(minimal(failover={field: value}))
    assert error["loc"] == ("failover", field)
    assert error["type"] == error_type


def test_failover_config_is_frozen() -> None:
    with pytest.raises(ValidationError):
        FailoverConfig().max_attempts = 9  # type: ignore[misc]


# --- hybrid backends -----------------------------------------------------------------------------------------


def test_hybrid_backend_config() -> None:
    think = {"type": "hybrid", "reasoning_model": "local:r1", "execution_model": "local:q?temperature=0.2"}
    config = Config.model_validate(minimal(backends={"local": dict(LOCAL), "think": think}))
    hybrid = config.backends["think"]
    assert isinstance(hybrid, HybridBackendConfig)
    assert (hybrid.reasoning_model, hybrid.execution_model, hybrid.reasoning_timeout) == (
        "local:r1",
        "local:q?temperature=0.2",
        60.0,
    )
    assert hybrid.upstream_keys() == ()
    assert config.hybrid_backends() == {"think": hybrid}


def test_hybrid_backend_holds_no_secret() -> None:
    config = Config.model_validate({"backends": {**BACKENDS, "think": HYBRID}, "default_backend": "a"})
    assert set(config.hybrid_backends()) == {"think"}
    assert OR_FILE_KEY in config.secrets()
    assert config.backends["think"].upstream_keys() == ()


@pytest.mark.parametrize(
    ("changes", "loc", "error_type"),
    [
        ({"reasoning_timeout": 0}, ("backends", "think", "hybrid", "reasoning_timeout"), "greater_than"),
        ({"reasoning_model": None}, ("backends", "think", "hybrid", "reasoning_model"), "string_type"),
        ({"api_key": "sk-x"}, ("backends", "think", "hybrid", "api_key"), "extra_forbidden"),
        ({"base_url": "http://127.0.0.1:9"}, ("backends", "think", "hybrid", "base_url"), "extra_forbidden"),
    ],
)
def test_hybrid_backend_refuses(changes: dict[str, Any], loc: tuple[str, ...], error_type: str) -> None:
    backends = {**BACKENDS, "think": {**HYBRID, **changes}}
    error = first_error({"backends": backends, "default_backend": "a"})
    assert (error["loc"], error["type"]) == (loc, error_type)


# --- start-up errors through the real loading path --------------------------------------------------------------

ERRORS = [
    ("unknown key", {"failover_routes": {"nope": ["a"]}}, "failover_routes", "key 'nope' must be 'default'"),
    ("key of a plain model", {"failover_routes": {"gpt-4o": ["a"]}}, "failover_routes", "'gpt-4o' names no configured"),
    ("unknown target backend", {"failover_routes": {"a": ["nope:x"]}}, "failover_routes", "'nope:x' names no configured"),
    ("target with no backend", {"failover_routes": {"default": ["gpt-4o"]}}, "failover_routes", "routes of 'default'"),
    ("target bad param", {"failover_routes": {"a": ["b?temperature=5"]}}, "failover_routes", "temperature"),
    ("target empty", {"failover_routes": {"a": [""]}}, "failover_routes", "names no model"),
    ("target bad inline", {"failover_routes": {"a": ["hybrid:[a:x]"]}}, "failover_routes", "inline hybrid"),
    ("inline leg unknown", {"failover_routes": {"a": ["hybrid:[a:x,zz:y]"]}}, "failover_routes", "'zz:y' names no"),
    ("inline leg hybrid", {"failover_routes": {"a": ["hybrid:[think,a:y]"]}}, "failover_routes", "'think' names no"),
    ("routes not a list", {"failover_routes": {"a": "b"}}, "failover_routes.a", "valid list"),
    ("reasoning unknown", {"think": {"reasoning_model": "nope:r1"}}, "backends.think.reasoning_model", "'nope:r1'"),
    ("execution plain id", {"think": {"execution_model": "qwen"}}, "backends.think.execution_model", "'qwen' names no"),
    ("leg is a hybrid", {"think": {"reasoning_model": "think"}}, "backends.think.reasoning_model", "'think' names no"),
    ("leg bad param", {"think": {"execution_model": "a:q?top_k=0"}}, "backends.think.execution_model", "top_k"),
    ("reasoning timeout", {"think": {"reasoning_timeout": -1}}, "backends.think.reasoning_timeout", "greater than 0"),
    ("failover bound", {"failover": {"max_attempts": 0}}, "failover.max_attempts", "greater than or equal to 1"),
    ("failover unknown", {"failover": {"attempts": 3}}, "failover.attempts", "unknown key"),
]


def file_config(changes: dict[str, Any]) -> dict[str, Any]:
    changes = dict(changes)
    hybrid = {**HYBRID, **changes.pop("think", {})}
    return {"default_backend": "a", "backends": {**BACKENDS, "think": hybrid}, **changes}


@pytest.mark.parametrize(("changes", "key", "fragment"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_bad_route_stops_start_up(tmp_path: Path, changes: dict[str, Any], key: str, fragment: str) -> None:
    path = config_file(tmp_path, file_config(changes))
    error = load_error({"config": str(path)})
    text = assert_clean(error)
    assert (error.where, error.key) == (str(path), key)
    assert text.startswith(f"{path}: {key}: ")
    assert fragment in text


def test_good_failover_config_loads(tmp_path: Path) -> None:
    routes = {
        "openrouter:anthropic/claude-sonnet-4": ["openrouter:openai/gpt-4o", "think"],
        "openrouter": ["think?temperature=0.3"],
        "think": ["b"],
        "default": ["a:qwen", "hybrid:[openrouter:deepseek/deepseek-r1,b:q?top_p=0.5]?max_tokens=99"],
    }
    data = {**file_config({}), "default_backend": "openrouter", "failover_routes": routes, "failover": {"cooldown": 0}}
    config = load_config({"config": str(config_file(tmp_path, data))}, {})
    assert config.failover_routes == routes
    assert config.failover == FailoverConfig(cooldown=0)
    assert set(config.hybrid_backends()) == {"think"}
    plan = router_for(config).plan("anthropic/claude-sonnet-4")
    assert [str(route) for route in plan] == [
        "openrouter:anthropic/claude-sonnet-4",
        "openrouter:openai/gpt-4o",
        "think:[openrouter:deepseek/deepseek-r1,a:qwen]",
    ]


def test_readme_failover_example_loads(tmp_path: Path) -> None:
    text = README.read_text(encoding="utf-8")
    block = re.search(r"<!-- failover-example:start -->\s*```yaml\n(.*?)```\s*<!-- failover-example:end -->", text, re.S)
    assert block is not None
    path = config_file(tmp_path, block.group(1))
    config = load_config({"config": str(path)}, {"OPENROUTER_API_KEY": OR_FILE_KEY})
    assert set(config.hybrid_backends()) == {"hybrid"}
    assert config.failover == FailoverConfig(max_attempts=5, deadline=300, max_retry_wait=5, connect_retries=2, cooldown=30)
    plan = router_for(config).plan("openrouter:x")
    assert [str(route) for route in plan] == ["openrouter:x", "hybrid:[openrouter:deepseek/deepseek-r1,local:qwen2.5-coder]"]


def test_nested_inline_hybrid_target_stops_start_up(tmp_path: Path) -> None:
    path = config_file(tmp_path, file_config({"failover_routes": {"default": ["hybrid:[hybrid:[a:x,a:y],b:z]"]}}))
    error = load_error({"config": str(path)})
    assert (error.where, error.key) == (str(path), "failover_routes")


def test_inline_hybrid_as_hybrid_leg_stops_start_up(tmp_path: Path) -> None:
    path = config_file(tmp_path, file_config({"think": {"reasoning_model": "hybrid:[a:x,b:y]"}}))
    error = load_error({"config": str(path)})
    assert (error.where, error.key) == (str(path), "backends.think.reasoning_model")


def test_dashed_hybrid_name_is_still_named_in_the_line(tmp_path: Path) -> None:
    data = file_config({})
    data["backends"]["my-think"] = {**HYBRID, "reasoning_model": "nope:r1"}
    path = config_file(tmp_path, data)
    text = assert_clean(load_error({"config": str(path)}))
    assert text.startswith(f"{path}: backends.my-think.reasoning_model: 'nope:r1' names no configured backend")


def test_dashed_hybrid_name_is_the_error_key(tmp_path: Path) -> None:
    data = file_config({})
    data["backends"]["my-think"] = {**HYBRID, "reasoning_model": "nope:r1"}
    error = load_error({"config": str(config_file(tmp_path, data))})
    assert error.key == "backends.my-think.reasoning_model"


def test_error_is_one_line_even_for_yaml_written_by_hand(tmp_path: Path) -> None:
    text = yaml.safe_dump(file_config({})) + "failover_routes:\n  a:\n    - b\n    - nope:x\n"
    path = config_file(tmp_path, text)
    error = load_error({"config": str(path)})
    assert isinstance(error, ConfigError)
    assert assert_clean(error) == (
        f"{path}: failover_routes: in the routes of 'a': 'nope:x' names no configured backend "
        "(expected <backend> or <backend>:<model>; configured: a, b, c, openrouter, think)"
    )
