"""Router.plan: the ordered routes of a request (a|b|c, aliases, force_model, failover_routes, hybrids)."""

from __future__ import annotations

from typing import Any

import pytest

from src.routing.aliases import AliasRule
from src.routing.plan import Route, Router, composite_route
from src.wire.errors import InvalidRequest

BACKENDS = frozenset({"openrouter", "local", "vllm", "think"})
COMPOSITES = {"think": ("openrouter:deepseek/deepseek-r1", "local:qwen?temperature=0.2")}  # a configured hybrid
ALIASES = [
    {"pattern": "^best$", "replacement": "openrouter:anthropic/claude|local:qwen?temperature=0.3"},
    {"pattern": "^fast$", "replacement": "vllm:mini"},
    {"pattern": "^combo$", "replacement": "fast|local:x"},
]
ROUTES = {
    "openrouter:anthropic/claude": ["vllm:claude-like"],
    "openrouter": ["local"],
    "default": ["vllm:fallback"],
}
THINK = "think:[openrouter:deepseek/deepseek-r1,local:qwen]"


def make(
    *,
    model_aliases: list[dict[str, str]] | None = None,
    failover_routes: dict[str, list[str]] | None = None,
    force_model: str | None = None,
) -> Router:
    """The router `src.core.runtime.router_for` builds from a configuration with these settings."""
    return Router.build(
        composite_legs=COMPOSITES,
        default_backend="openrouter",
        backends=BACKENDS,
        aliases=tuple(AliasRule(**rule) for rule in model_aliases or ()),
        force_model=force_model,
        fallbacks={key: tuple(targets) for key, targets in (failover_routes or {}).items()},
    )


def shape(routes: tuple[Route, ...]) -> list[tuple[str, dict[str, Any]]]:
    return [(str(route), dict(route.params)) for route in routes]


PLAIN = make()
ALIASED = make(model_aliases=ALIASES)
FAILOVER = make(failover_routes=ROUTES)
NO_PARAMS: dict[str, Any] = {}

CASES = [
    # one route; a plain id goes to the default backend
    (PLAIN, "openai/gpt-4o", [("openrouter:openai/gpt-4o", NO_PARAMS)]),
    (PLAIN, "local:llama3:8b", [("local:llama3:8b", NO_PARAMS)]),
    # inline alternatives, each leg with its own selector and parameters
    (PLAIN, "local:a|vllm:b|c", [("local:a", {}), ("vllm:b", {}), ("openrouter:c", {})]),
    (PLAIN, "local:a|vllm:b?temperature=1", [("local:a", {}), ("vllm:b", {"temperature": 1.0})]),
    (PLAIN, "local:a?top_k=5|vllm:b", [("local:a", {"top_k": 5}), ("vllm:b", {})]),
    (PLAIN, " local:a | vllm:b ", [("local:a", {}), ("vllm:b", {})]),
    # duplicates removed, first position kept; a different parameter is a different route
    (PLAIN, "local:a|vllm:b|local:a", [("local:a", {}), ("vllm:b", {})]),
    (PLAIN, "local:a?temperature=1|local:a", [("local:a", {"temperature": 1.0}), ("local:a", {})]),
    # aliases apply per leg, once; a replacement may hold alternatives
    (ALIASED, "best", [("openrouter:anthropic/claude", {}), ("local:qwen", {"temperature": 0.3})]),
    (ALIASED, "fast|best", [("vllm:mini", {}), ("openrouter:anthropic/claude", {}), ("local:qwen", {"temperature": 0.3})]),
    (ALIASED, "combo", [("openrouter:fast", {}), ("local:x", {})]),
    (ALIASED, "local:y|fast", [("local:y", {}), ("vllm:mini", {})]),
    # force_model replaces the request's model, then goes through the same steps
    (make(force_model="local:a|vllm:b"), "anything", [("local:a", {}), ("vllm:b", {})]),
    (make(force_model="local:a|vllm:b"), None, [("local:a", {}), ("vllm:b", {})]),
    (make(force_model="best", model_aliases=ALIASES), "x", [("openrouter:anthropic/claude", {}), ("local:qwen", {"temperature": 0.3})]),
    # failover_routes: full selector, then backend name, then default
    (FAILOVER, "openrouter:anthropic/claude", [("openrouter:anthropic/claude", {}), ("vllm:claude-like", {})]),
    (FAILOVER, "anthropic/claude", [("openrouter:anthropic/claude", {}), ("vllm:claude-like", {})]),
    (FAILOVER, "openrouter:other", [("openrouter:other", {}), ("local:other", {})]),
    (FAILOVER, "local:x", [("local:x", {}), ("vllm:fallback", {})]),
    (make(failover_routes={"openrouter": ["local"]}), "vllm:x", [("vllm:x", {})]),
    # a bare backend target: the same model, its parameters kept, the target's own ones winning
    (FAILOVER, "other?temperature=0.5", [("openrouter:other", {"temperature": 0.5}), ("local:other", {"temperature": 0.5})]),
    (
        make(failover_routes={"openrouter": ["local?top_p=0.9", "vllm?temperature=0.1"]}),
        "m?temperature=0.5",
        [
            ("openrouter:m", {"temperature": 0.5}),
            ("local:m", {"temperature": 0.5, "top_p": 0.9}),
            ("vllm:m", {"temperature": 0.1}),
        ],
    ),
    # every leg's alternatives first, then each leg's failover routes, duplicates dropped
    (FAILOVER, "openrouter:m|local:x", [("openrouter:m", {}), ("local:x", {}), ("local:m", {}), ("vllm:fallback", {})]),
    (FAILOVER, "local:m|openrouter:m", [("local:m", {}), ("openrouter:m", {}), ("vllm:fallback", {})]),
    (FAILOVER, "vllm:fallback", [("vllm:fallback", {})]),
    # configured hybrid backends: `name` or `name?params`
    (PLAIN, "think", [(THINK, {})]),
    (PLAIN, "think?temperature=0.7", [(THINK, {"temperature": 0.7})]),
    (PLAIN, "local:a|think", [("local:a", {}), (THINK, {})]),
    (make(failover_routes={"openrouter": ["think"]}), "m", [("openrouter:m", {}), (THINK, {})]),
    (make(failover_routes={"openrouter": ["think?max_tokens=50"]}), "m", [("openrouter:m", {}), (THINK, {"max_tokens": 50})]),
    # a bare backend after a hybrid: the hybrid's answer model, with its parameters
    (make(failover_routes={"think": ["vllm"]}), "think", [(THINK, {}), ("vllm:qwen", {"temperature": 0.2})]),
    (make(failover_routes={THINK: ["vllm:y"], "think": ["vllm:z"]}), "think", [(THINK, {}), ("vllm:y", {})]),
    # inline hybrids
    (
        PLAIN,
        "hybrid:[openrouter:deepseek/deepseek-r1,local:qwen]?max_tokens=100",
        [("hybrid:[openrouter:deepseek/deepseek-r1,local:qwen]", {"max_tokens": 100})],
    ),
    (PLAIN, "hybrid:[local:a,vllm:b]|local:c", [("hybrid:[local:a,vllm:b]", {}), ("local:c", {})]),
    (ALIASED, "hybrid:[fast,local:b]", [("hybrid:[vllm:mini,local:b]", {})]),
    (FAILOVER, "hybrid:[local:a,vllm:b]", [("hybrid:[local:a,vllm:b]", {}), ("vllm:fallback", {})]),
    (make(failover_routes={"openrouter": ["hybrid:[local:a,vllm:b]"]}), "m", [("openrouter:m", {}), ("hybrid:[local:a,vllm:b]", {})]),
]


@pytest.mark.parametrize(("router", "requested", "expected"), CASES)
def test_plan(router: Router, requested: object, expected: list[tuple[str, dict[str, Any]]]) -> None:
    plan = router.plan(requested)
    assert shape(plan) == expected
    assert all(isinstance(route, Route) for route in plan)


def test_configured_hybrid_route() -> None:
    route = PLAIN.plan("think?temperature=0.7")[0]
    assert (route.backend, route.model, dict(route.params)) == (
        "think",
        "[openrouter:deepseek/deepseek-r1,local:qwen]",
        {"temperature": 0.7},
    )
    reasoning, execution = Route("openrouter", "deepseek/deepseek-r1"), Route("local", "qwen", {"temperature": 0.2})
    assert route.legs == (reasoning, execution)
    assert route.answerer == execution
    assert route == composite_route("think", (reasoning, execution), {"temperature": 0.7})


def test_inline_hybrid_route() -> None:
    route = ALIASED.plan("hybrid:[fast,openai/gpt-4o-mini?top_p=0.5]?max_tokens=9")[0]
    assert (route.backend, dict(route.params)) == ("hybrid", {"max_tokens": 9})
    assert route.legs == (Route("vllm", "mini"), Route("openrouter", "openai/gpt-4o-mini", {"top_p": 0.5}))
    assert route.answerer == Route("openrouter", "openai/gpt-4o-mini", {"top_p": 0.5})


def test_plain_routes_have_no_legs_and_answer_themselves() -> None:
    plan = FAILOVER.plan("openrouter:m|local:x")
    assert len(plan) == 4
    assert all(route.legs == () and route.answerer is route for route in plan)


@pytest.mark.parametrize(
    ("route", "text"),
    [
        (Route("local", "qwen"), "local:qwen"),
        (Route("local", "qwen", {"temperature": 0.2}), "local:qwen"),
        (Route("openrouter", "anthropic/claude-3-haiku:beta"), "openrouter:anthropic/claude-3-haiku:beta"),
        (PLAIN.plan("think?temperature=0.1")[0], THINK),
        (PLAIN.plan("hybrid:[local:a?temperature=1,vllm:b]")[0], "hybrid:[local:a,vllm:b]"),
    ],
)
def test_route_str(route: Route, text: str) -> None:
    assert str(route) == text


@pytest.mark.parametrize(
    ("router", "requested", "message", "param"),
    [
        (PLAIN, "local:a||local:b", "empty alternative", "model"),
        (PLAIN, "|local:a", "empty alternative", "model"),
        (PLAIN, "local:a|", "empty alternative", "model"),
        (PLAIN, " | ", "empty alternative", "model"),
        (make(force_model="local:a||vllm:b"), "x", "empty alternative", "model"),
        (make(model_aliases=[{"pattern": "^x$", "replacement": "local:a|"}]), "x", "empty alternative", "model"),
        (PLAIN, "hybrid:[think,local:b]", "cannot be a leg of another hybrid", "model"),
        (PLAIN, "hybrid:[hybrid:[local:a,local:b],local:c]", "cannot be a leg of another hybrid", "model"),
        (PLAIN, "hybrid:[local:a]", "inline hybrid is hybrid:[", "model"),
        (PLAIN, "hybrid:[local:a,local:b]x", "inline hybrid is hybrid:[", "model"),
        (PLAIN, "local:a|local:b?temperature=9", "temperature", "temperature"),
        (PLAIN, "hybrid:[local:a,local:b]?bogus=1", "bogus", "bogus"),
        (PLAIN, "local:", "names no model", "model"),
        (PLAIN, "", "'model' is required", "model"),
    ],
)
def test_plan_refuses(router: Router, requested: str, message: str, param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        router.plan(requested)
    assert message in caught.value.message
    assert caught.value.param == param
    assert caught.value.status == 400
