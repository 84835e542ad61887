"""Where a request goes: force_model, then aliases, then the selector, then the default backend;
then, should that route fail, the alternatives of `a|b|c` and the configured failover routes."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from src.core.aliases import AliasRule, apply_aliases
from src.core.config import Config
from src.core.errors import InvalidRequest
from src.core.params import parse_params
from src.core.selectors import parse_inline_hybrid, parse_selector, split_alternatives

INLINE_HYBRID = "hybrid"
DEFAULT_REASONING_TIMEOUT = 60.0


@dataclass(frozen=True)
class Route:
    backend: str
    model: str
    params: Mapping[str, Any] = field(default_factory=dict)
    hybrid: HybridPlan | None = None

    def __str__(self) -> str:
        return f"{self.backend}:{self.model}"


@dataclass(frozen=True)
class HybridPlan:
    reasoning: Route
    execution: Route
    reasoning_timeout: float = DEFAULT_REASONING_TIMEOUT


def hybrid_route(name: str, reasoning: Route, execution: Route, timeout: float, params: Mapping[str, Any]) -> Route:
    """Shown, and matched in failover_routes, as `name:[reasoning,execution]`."""
    return Route(name, f"[{reasoning},{execution}]", params, HybridPlan(reasoning, execution, timeout))


@dataclass(frozen=True)
class Router:
    default_backend: str
    backends: frozenset[str]
    aliases: tuple[AliasRule, ...] = ()
    force_model: str | None = None
    hybrids: Mapping[str, Route] = field(default_factory=dict)  # configured hybrid backends
    fallbacks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: Config) -> Router:
        hybrid_configs = config.hybrid_backends()
        router = cls(
            default_backend=config.default_backend,
            backends=frozenset(config.backends),
            aliases=tuple(config.model_aliases),
            force_model=config.force_model,
            fallbacks={key: tuple(targets) for key, targets in config.failover_routes.items()},
        )
        hybrids = {
            name: hybrid_route(
                name, router.route(h.reasoning_model), router.route(h.execution_model), h.reasoning_timeout, {}
            )
            for name, h in hybrid_configs.items()
        }
        return replace(router, hybrids=hybrids)

    def __post_init__(self) -> None:
        # A plan is a pure function of the model string, and clients send the same few strings
        # again and again: remember the latest few thousand.
        object.__setattr__(self, "_remembered", functools.lru_cache(maxsize=4096)(self._plan))

    def resolve(self, requested: object) -> Route:
        """The first route a request tries."""
        return self.plan(requested)[0]

    def plan(self, requested: object) -> tuple[Route, ...]:
        """Every route a request may try, in order: its own alternatives, then their failover routes."""
        model = self.force_model or requested
        if isinstance(model, str):
            return self._remembered(model)  # type: ignore[attr-defined,no-any-return]
        return self._plan(model)

    def _plan(self, model: object) -> tuple[Route, ...]:
        if not isinstance(model, str) or not model.strip():
            raise InvalidRequest("'model' is required and must be a non-empty string", param="model")
        legs = [
            self.route(part)
            for leg in split_alternatives(model)
            for part in split_alternatives(apply_aliases(leg.strip(), self.aliases))
        ]
        chain = list(legs)
        for leg in legs:
            chain.extend(self._fallbacks(leg))
        return _unique(chain)

    def route(self, text: str) -> Route:
        """One selector (no alternatives) as a route."""
        text = text.strip()
        if not text:
            raise InvalidRequest("the model string has an empty alternative ('a||b')", param="model")
        inline = parse_inline_hybrid(text)
        if inline is not None:
            legs = (self._leg(inline.reasoning), self._leg(inline.execution))
            return hybrid_route(INLINE_HYBRID, *legs, DEFAULT_REASONING_TIMEOUT, parse_params(inline.query))
        name, _, query = text.partition("?")
        hybrid = self.hybrids.get(name) or self.hybrids.get(name.partition(":")[0])
        if hybrid is not None:
            return replace(hybrid, params=parse_params(query))
        selector = parse_selector(text, self.backends)
        return Route(selector.backend or self.default_backend, selector.model, parse_params(selector.query))

    def _leg(self, text: str) -> Route:
        route = self.route(apply_aliases(text, self.aliases))
        if route.hybrid is not None:
            raise InvalidRequest(f"a hybrid cannot be a leg of another hybrid: {text!r}", param="model")
        return route

    def _fallbacks(self, route: Route) -> Iterator[Route]:
        key = next((k for k in (str(route), route.backend, "default") if k in self.fallbacks), None)
        for target in self.fallbacks.get(key, ()) if key else ():
            yield self._fallback(target, route)

    def _fallback(self, target: str, failed: Route) -> Route:
        name, _, query = target.partition("?")
        if name in self.backends and name not in self.hybrids:
            # A bare backend name: the same model there. A hybrid's own answer model is its "model".
            same = failed.hybrid.execution if failed.hybrid else failed
            return Route(name, same.model, {**same.params, **parse_params(query)})
        return self.route(target)


def _unique(routes: list[Route]) -> tuple[Route, ...]:
    unique: list[Route] = []
    for route in routes:
        if route not in unique:
            unique.append(route)
    return tuple(unique)
