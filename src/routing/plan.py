"""Where a request goes: force_model, then aliases, then the selector, then the default backend;
then, should that route fail, the alternatives of `a|b|c` and the configured failover routes.

Planning is linear in the size of the model string, which is bounded (MAX_MODEL_BYTES,
MAX_ALTERNATIVES), and plans are remembered in a cache bounded in bytes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any
from urllib.parse import quote

from src.routing.aliases import AliasRule, apply_aliases
from src.routing.cache import ByteBoundedCache
from src.routing.params import parse_params
from src.routing.selectors import INLINE_COMPOSITE, parse_inline_hybrid, parse_selector, split_alternatives
from src.wire.errors import InvalidRequest

MAX_MODEL_BYTES = 1024  # a model string longer than this is refused: no real one comes near it
MAX_ALTERNATIVES = 16  # of `a|b|c`, after aliases
_NO_PARAMS: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, eq=False)
class Route:
    """One way to serve a request: a backend and a model, with URI parameters. A composite route
    (the hybrid backend's) names its `legs`, the routes it combines, and the last one answers."""

    backend: str
    model: str
    params: Mapping[str, Any] = field(default_factory=lambda: _NO_PARAMS)
    legs: tuple[Route, ...] = ()
    _key: tuple[Any, ...] = field(init=False, repr=False)
    # Asked for on every request, and routes are planned once and cached: made once, here.
    _text: str = field(init=False, repr=False)  # `backend:model`
    _label: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_key", (self.backend, self.model, frozenset(self.params.items()), self.legs))
        object.__setattr__(self, "_text", f"{self.backend}:{self.model}")
        object.__setattr__(self, "_label", _label_of(self))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Route) and self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)

    def __str__(self) -> str:
        return self._text

    @property
    def answerer(self) -> Route:
        """The route whose model writes the answer: the last leg of a composite, else this one."""
        return self.legs[-1] if self.legs else self

    @property
    def label(self) -> str:
        """The route as a client may write it, every leg's parameters kept (the x-switchyard-route header)."""
        return self._label


def _label_of(route: Route) -> str:
    params = route.params
    query = "?" + "&".join(f"{k}={quote(str(v), safe='')}" for k, v in params.items()) if params else ""
    if route.legs:
        return f"{route.backend}:[{','.join(leg.label for leg in route.legs)}]{query}"
    return f"{route._text}{query}"


def composite_route(name: str, legs: tuple[Route, ...], params: Mapping[str, Any] = _NO_PARAMS) -> Route:
    """Shown, and matched in failover_routes, as `name:[reasoning,execution]`."""
    return Route(name, f"[{','.join(map(str, legs))}]", params, legs)


@dataclass(frozen=True)
class Router:
    default_backend: str
    backends: frozenset[str]  # the backends a selector may name
    aliases: tuple[AliasRule, ...] = ()
    force_model: str | None = None
    composites: Mapping[str, Route] = field(default_factory=dict)  # configured composite backends
    fallbacks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    _plans: ByteBoundedCache[tuple[Route, ...]] = field(default_factory=ByteBoundedCache, repr=False, compare=False)

    @classmethod
    def build(cls, composite_legs: Mapping[str, tuple[str, ...]] = MappingProxyType({}), **settings: Any) -> Router:
        """A router whose composite backends' legs (selectors, as configured) are routed by itself."""
        router = cls(**settings)
        composites = {
            name: composite_route(name, tuple(router._leg(leg) for leg in legs)) for name, legs in composite_legs.items()
        }
        return replace(router, composites=composites, _plans=ByteBoundedCache())

    def plan(self, requested: object) -> tuple[Route, ...]:
        """Every route a request may try, in order: its own alternatives, then their failover routes.
        The client's URI parameters still apply when force_model replaces its model."""
        if self.force_model:
            forced = self._cached(self.force_model)
            client_params = _client_params(requested)
            return tuple(_with_params(route, client_params) for route in forced) if client_params else forced
        return self._cached(_model_string(requested))

    def _cached(self, model: str) -> tuple[Route, ...]:
        plan = self._plans.get(model)
        if plan is None:
            plan = self._plan(model)
            # A route holds its model, its text and (once asked) its label: about three copies.
            self._plans.put(model, plan, len(model) + sum(256 + 3 * len(str(route)) for route in plan))
        return plan

    def _plan(self, model: str) -> tuple[Route, ...]:
        legs = [
            self.route(part)
            for leg in _alternatives(model)
            for part in _alternatives(apply_aliases(leg.strip(), self.aliases))
        ]
        if len(legs) > MAX_ALTERNATIVES:
            raise InvalidRequest(f"the model string has more than {MAX_ALTERNATIVES} alternatives ('a|b|c')", param="model")
        chain = list(legs)
        for leg in legs:
            chain.extend(self._fallbacks(leg))
        return tuple(dict.fromkeys(chain))  # in order, each route once: linear, since routes hash

    def route(self, text: str) -> Route:
        """One selector (no alternatives) as a route."""
        text = text.strip()
        if not text:
            raise InvalidRequest("the model string has an empty alternative ('a||b')", param="model")
        inline = parse_inline_hybrid(text)
        if inline is not None:
            legs = (self._leg(inline.reasoning), self._leg(inline.execution))
            return composite_route(INLINE_COMPOSITE, legs, parse_params(inline.query))
        name, query = _name_and_query(text)
        composite = self.composites.get(name) or self.composites.get(name.partition(":")[0])
        if composite is not None:
            return replace(composite, params=parse_params(query))
        selector = parse_selector(text, self.backends)
        return Route(selector.backend or self.default_backend, selector.model, parse_params(selector.query))

    def _leg(self, text: str) -> Route:
        route = self.route(apply_aliases(text, self.aliases))
        if route.legs:
            raise InvalidRequest(f"a hybrid cannot be a leg of another hybrid: {text!r}", param="model")
        return route

    def _fallbacks(self, route: Route) -> Iterator[Route]:
        key = next((k for k in (str(route), route.backend, "default") if k in self.fallbacks), None)
        for target in self.fallbacks.get(key, ()) if key else ():
            yield self._fallback(target, route)

    def _fallback(self, target: str, failed: Route) -> Route:
        name, _, query = target.partition("?")
        if name in self.backends and name not in self.composites:
            same = failed.answerer  # a bare backend name: the same model there
            return Route(name, same.model, {**same.params, **parse_params(query)})
        return self.route(target)


def _name_and_query(text: str) -> tuple[str, str]:
    """`name?query`, where a `?` inside brackets (a composite's legs, as its label shows them) is the name's."""
    head, bracket, tail = text.rpartition("]")
    if bracket:
        rest, _, query = tail.partition("?")
        return head + bracket + rest, query
    name, _, query = text.partition("?")
    return name, query


def _model_string(requested: object) -> str:
    if not isinstance(requested, str) or not requested.strip():
        raise InvalidRequest("'model' is required and must be a non-empty string", param="model")
    if len(requested) > MAX_MODEL_BYTES or len(requested.encode("utf-8", "surrogatepass")) > MAX_MODEL_BYTES:
        raise InvalidRequest(f"'model' is longer than {MAX_MODEL_BYTES} bytes", param="model")
    if not requested.isascii():
        try:
            requested.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate escape (`\ud800`): no upstream or header can carry it
            raise InvalidRequest("'model' is not valid Unicode (it holds a lone surrogate)", param="model") from None
    return requested


def _alternatives(text: str) -> list[str]:
    parts = split_alternatives(text)
    if len(parts) > MAX_ALTERNATIVES:
        raise InvalidRequest(f"the model string has more than {MAX_ALTERNATIVES} alternatives ('a|b|c')", param="model")
    return parts


def _client_params(requested: object) -> Mapping[str, Any]:
    """The URI parameters of the client's own model string (its first alternative), when it has any."""
    if not isinstance(requested, str) or "?" not in requested:
        return _NO_PARAMS
    first = _alternatives(_model_string(requested))[0].strip()
    inline = parse_inline_hybrid(first)
    return parse_params(inline.query if inline else first.partition("?")[2])


def _with_params(route: Route, params: Mapping[str, Any]) -> Route:
    """The forced route with the client's parameters; the forced model's own win where both set one."""
    return replace(route, params={**params, **route.params})
