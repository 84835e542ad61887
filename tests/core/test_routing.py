"""Router.resolve: force_model, then aliases, then the selector, then the default backend."""

from __future__ import annotations

from typing import Any

import pytest

from src.routing.aliases import AliasRule
from src.wire.errors import InvalidRequest
from src.routing.plan import Route, Router

BACKENDS = frozenset({"openai", "openrouter", "ollama"})
ALIASES = (
    AliasRule(pattern=r"^fast$", replacement="openrouter:openai/gpt-4o-mini?temperature=0.2"),
    AliasRule(pattern=r"^gpt-(.*)", replacement=r"openrouter:openai/gpt-\1"),
    AliasRule(pattern=r"^local$", replacement="llama3:8b"),
)


def router(*, aliases: tuple[AliasRule, ...] = (), force_model: str | None = None) -> Router:
    return Router(default_backend="openai", backends=BACKENDS, aliases=aliases, force_model=force_model)


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
        (router(aliases=ALIASES, force_model="fast"), "gpt-4o", ("openrouter", "openai/gpt-4o-mini", {"temperature": 0.2})),
        (router(aliases=ALIASES, force_model="gpt-5"), None, ("openrouter", "openai/gpt-5", {})),
    ],
)
def test_resolve(r: Router, requested: object, expected: tuple[str, str, dict[str, Any]]) -> None:
    route = r.resolve(requested)
    assert isinstance(route, Route)
    assert (route.backend, route.model, dict(route.params)) == expected
    for name, value in expected[2].items():
        assert type(route.params[name]) is type(value)


def test_route_str() -> None:
    assert str(Route("openrouter", "openai/gpt-4o")) == "openrouter:openai/gpt-4o"


@pytest.mark.parametrize(
    "requested",
    [None, "", "   ", 0, 42, 1.5, True, ["gpt-4o"], {"id": "gpt-4o"}, b"gpt-4o", "openrouter:", "openrouter:?temperature=1"],
)
def test_resolve_rejects_missing_model(requested: object) -> None:
    with pytest.raises(InvalidRequest) as caught:
        router().resolve(requested)
    assert caught.value.param == "model"
    assert caught.value.status == 400


@pytest.mark.parametrize(
    ("r", "requested", "param"),
    [
        (router(), "gpt-4o?temperature=9", "temperature"),
        (router(), "gpt-4o?bogus=1", "bogus"),
        (router(aliases=(AliasRule(pattern="^hot$", replacement="gpt-4o?temperature=5"),)), "hot", "temperature"),
        (router(force_model="gpt-4o?top_k=0"), "gpt-4o", "top_k"),
    ],
)
def test_resolve_rejects_bad_params(r: Router, requested: object, param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        r.resolve(requested)
    assert caught.value.param == param
