"""Router.plan, its first route: force_model, then aliases, then the selector, then the default backend.

force_model replaces the client's model but keeps the URI parameters the client wrote on it.
"""

from __future__ import annotations

from typing import Any

import pytest

from src.routing.aliases import AliasRule
from src.routing.plan import Route, Router
from src.wire.errors import InvalidRequest

BACKENDS = frozenset({"openai", "openrouter", "ollama"})
ALIASES = (
    AliasRule(pattern=r"^fast$", replacement="openrouter:openai/gpt-4o-mini?temperature=0.2"),
    AliasRule(pattern=r"^gpt-(.*)", replacement=r"openrouter:openai/gpt-\1"),
    AliasRule(pattern=r"^local$", replacement="llama3:8b"),
)


def router(*, aliases: tuple[AliasRule, ...] = (), force_model: str | None = None) -> Router:
    return Router.build(default_backend="openai", backends=BACKENDS, aliases=aliases, force_model=force_model)


def first(r: Router, requested: object) -> Route:
    return r.plan(requested)[0]


@pytest.mark.parametrize(
    ("r", "requested", "expected"),
    [
        # default backend
        (router(), "gpt-4o", ("openai", "gpt-4o", {})),
        (router(), "llama3:8b", ("openai", "llama3:8b", {})),
        (router(), "qwen/qwen3-coder:free", ("openai", "qwen/qwen3-coder:free", {})),
        # selector
        (router(), "openrouter:anthropic/claude-3-haiku:beta", ("openrouter", "anthropic/claude-3-haiku:beta", {})),
        (router(), "ollama:llama3:8b", ("ollama", "llama3:8b", {})),
        (router(), "openrouter/openai/gpt-4o", ("openrouter", "openai/gpt-4o", {})),
        (router(), "openrouter/auto", ("openai", "openrouter/auto", {})),
        # URI params
        (router(), "gpt-4o?temperature=0.5", ("openai", "gpt-4o", {"temperature": 0.5})),
        (
            router(),
            "openrouter:openai/gpt-4o?temperature=0.7&top_k=40&seed=-1",
            ("openrouter", "openai/gpt-4o", {"temperature": 0.7, "top_k": 40, "seed": -1}),
        ),
        # aliases, including a replacement that carries params
        (router(aliases=ALIASES), "fast", ("openrouter", "openai/gpt-4o-mini", {"temperature": 0.2})),
        (router(aliases=ALIASES), "gpt-4o", ("openrouter", "openai/gpt-4o", {})),
        (router(aliases=ALIASES), "gpt-4o?temperature=0.5", ("openrouter", "openai/gpt-4o", {"temperature": 0.5})),
        (router(aliases=ALIASES), "local", ("openai", "llama3:8b", {})),
        (router(aliases=ALIASES), "claude-3", ("openai", "claude-3", {})),
        # force_model replaces the model, even when the request has none
        (router(force_model="openrouter:openai/gpt-4o"), "gpt-3.5-turbo", ("openrouter", "openai/gpt-4o", {})),
        (router(force_model="openrouter:openai/gpt-4o"), None, ("openrouter", "openai/gpt-4o", {})),
        (router(force_model="openrouter:openai/gpt-4o"), "", ("openrouter", "openai/gpt-4o", {})),
        (router(force_model="openrouter:openai/gpt-4o"), 42, ("openrouter", "openai/gpt-4o", {})),
        (router(force_model="gpt-4o?max_tokens=10"), "anything", ("openai", "gpt-4o", {"max_tokens": 10})),
        # force_model, then aliases
        (
            router(aliases=ALIASES, force_model="fast"),
            "gpt-4o",
            ("openrouter", "openai/gpt-4o-mini", {"temperature": 0.2}),
        ),
        (router(aliases=ALIASES, force_model="gpt-5"), None, ("openrouter", "openai/gpt-5", {})),
    ],
)
def test_first_route(r: Router, requested: object, expected: tuple[str, str, dict[str, Any]]) -> None:
    route = first(r, requested)
    assert isinstance(route, Route)
    assert (route.backend, route.model, dict(route.params)) == expected
    for name, value in expected[2].items():
        assert type(route.params[name]) is type(value)


FORCED = "openrouter:openai/gpt-4o"


@pytest.mark.parametrize(
    ("force_model", "requested", "expected"),
    [
        # the client's parameters apply to the forced model
        (FORCED, "gpt-3.5?temperature=0.5", [("openrouter:openai/gpt-4o", {"temperature": 0.5})]),
        (FORCED, "x?top_k=3&seed=7", [("openrouter:openai/gpt-4o", {"top_k": 3, "seed": 7})]),
        (FORCED, "openrouter:y?max_tokens=9", [("openrouter:openai/gpt-4o", {"max_tokens": 9})]),
        # where both set one, the forced model's own wins; the others are merged
        (f"{FORCED}?temperature=1", "x?temperature=0.2&top_k=3", [(FORCED, {"temperature": 1.0, "top_k": 3})]),
        (f"{FORCED}?temperature=1", "x?temperature=0.2", [(FORCED, {"temperature": 1.0})]),
        # only the client's first alternative speaks for it
        (FORCED, "a?top_k=2|b?top_k=3", [(FORCED, {"top_k": 2})]),
        (FORCED, "a|b?top_k=3", [(FORCED, {})]),
        # an inline hybrid's own parameters, not its legs'
        (FORCED, "hybrid:[a?top_p=0.5,b]?max_tokens=5", [(FORCED, {"max_tokens": 5})]),
        # every forced alternative gets them
        (
            "ollama:a|openai:b?temperature=1",
            "x?temperature=0.3",
            [("ollama:a", {"temperature": 0.3}), ("openai:b", {"temperature": 1.0})],
        ),
        # a client model without parameters, or none at all, changes nothing
        (f"{FORCED}?top_p=0.9", "gpt-4o", [(FORCED, {"top_p": 0.9})]),
        (f"{FORCED}?top_p=0.9", None, [(FORCED, {"top_p": 0.9})]),
        (f"{FORCED}?top_p=0.9", "", [(FORCED, {"top_p": 0.9})]),
        (f"{FORCED}?top_p=0.9", 42, [(FORCED, {"top_p": 0.9})]),
        (f"{FORCED}?top_p=0.9", ["x?top_k=1"], [(FORCED, {"top_p": 0.9})]),
    ],
)
def test_force_model_keeps_the_clients_uri_parameters(
    force_model: str, requested: object, expected: list[tuple[str, dict[str, Any]]]
) -> None:
    plan = router(force_model=force_model).plan(requested)
    assert [(str(route), dict(route.params)) for route in plan] == expected


def test_forcing_does_not_change_the_cached_plan_of_the_forced_model() -> None:
    r = router(force_model=f"{FORCED}?top_p=0.9")
    assert dict(first(r, "x?temperature=0.3").params) == {"temperature": 0.3, "top_p": 0.9}
    assert dict(first(r, "x").params) == {"top_p": 0.9}


@pytest.mark.parametrize(
    "requested",
    [None, "", "   ", 0, 42, 1.5, True, ["gpt-4o"], {"id": "gpt-4o"}, b"gpt-4o", "openrouter:", "openrouter:?top_k=1"],
)
def test_plan_refuses_a_missing_model(requested: object) -> None:
    with pytest.raises(InvalidRequest) as caught:
        router().plan(requested)
    assert caught.value.param == "model"
    assert caught.value.status == 400


@pytest.mark.parametrize(
    ("r", "requested", "param"),
    [
        (router(), "gpt-4o?temperature=9", "temperature"),
        (router(), "gpt-4o?bogus=1", "bogus"),
        (router(aliases=(AliasRule(pattern="^hot$", replacement="gpt-4o?temperature=5"),)), "hot", "temperature"),
        (router(force_model="gpt-4o?top_k=0"), "gpt-4o", "top_k"),
        # the client's own parameters are still checked when its model is replaced
        (router(force_model="gpt-4o"), "x?temperature=9", "temperature"),
        (router(force_model="gpt-4o"), "x?bogus=1", "bogus"),
    ],
)
def test_plan_refuses_bad_params(r: Router, requested: object, param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        r.plan(requested)
    assert caught.value.param == param
    assert caught.value.status == 400


def test_a_plan_is_remembered() -> None:
    r = router(aliases=ALIASES)
    assert r.plan("fast|gpt-4o") is r.plan("fast|gpt-4o")
