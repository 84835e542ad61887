"""Model selectors: `backend:model?k=v`, `backend/vendor/model`, or a bare model id.

Model ids are opaque: they may hold `/`, `:` and `~` (`qwen/qwen3-coder:free`,
`llama3:8b`, `~anthropic/claude-sonnet-latest`), so a prefix names a backend
only when it is the name of a configured backend.

A model string may also list alternatives, `a|b|c`, and name an inline hybrid,
`hybrid:[<reasoning selector>,<execution selector>]`.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import NamedTuple

from src.routing.params import parse_params
from src.wire.errors import InvalidRequest

INLINE_COMPOSITE = "hybrid"  # `hybrid:[r,e]` names both legs of a hybrid in the model string
HYBRID_PREFIX = INLINE_COMPOSITE + ":["


class Selector(NamedTuple):
    backend: str | None
    model: str
    query: str


class InlineHybrid(NamedTuple):
    reasoning: str
    execution: str
    query: str


def parse_selector(text: str, backends: Collection[str]) -> Selector:
    backend, rest = _split_backend(text, backends)
    model, _, query = rest.partition("?")
    if not model:
        raise InvalidRequest(f"model {text!r} names no model", param="model")
    return Selector(backend, model, query)


def _split_backend(text: str, backends: Collection[str]) -> tuple[str | None, str]:
    prefix, colon, rest = text.partition(":")
    if colon and prefix in backends:
        return prefix, rest
    # `openrouter/openai/gpt-4o` means `openrouter:openai/gpt-4o`, but `openrouter/auto` is a model id.
    head, slash, tail = text.partition("/")
    if slash and head in backends and "/" in tail.partition("?")[0]:
        return head, tail
    return None, text


def split_alternatives(text: str) -> list[str]:
    """`a|b|c` as its parts; a `|` or `,` inside the brackets of an inline hybrid stays in its part."""
    return _split_top_level(text, "|")


def parse_inline_hybrid(text: str) -> InlineHybrid | None:
    """The two legs of `hybrid:[r,e]?query`, or None when `text` is no inline hybrid."""
    if not text.startswith(HYBRID_PREFIX):
        return None
    inner, bracket, query = text[len(HYBRID_PREFIX) :].rpartition("]")
    legs = _split_top_level(inner, ",") if bracket else []
    if len(legs) != 2 or not all(leg.strip() for leg in legs) or (query and not query.startswith("?")):
        raise InvalidRequest(
            f"model {text!r}: an inline hybrid is hybrid:[<reasoning model>,<execution model>]", param="model"
        )
    return InlineHybrid(legs[0].strip(), legs[1].strip(), query[1:])


def _split_top_level(text: str, separator: str) -> list[str]:
    if separator not in text:
        return [text]
    parts, depth, start = [], 0, 0
    for index, char in enumerate(text):
        if char == "[":
            depth += 1
        elif char == "]":
            depth = max(depth - 1, 0)
        elif char == separator and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return parts


def route_problem(text: str, backends: Collection[str], hybrids: Collection[str] | None = ()) -> str | None:
    """Why a configured route (a failover target or a hybrid leg) is unusable, or None.

    `backends` are the plain backends, `hybrids` the configured hybrid ones (None for a
    hybrid's own legs, which cannot be hybrids). Configured
    routes must name their backend, so that a typo cannot become a model id on the
    default backend.
    """
    if len(split_alternatives(text)) > 1:
        return f"{text!r}: a configured route is one selector; list alternatives as separate entries"
    try:
        inline = parse_inline_hybrid(text)
        if inline is not None:
            if hybrids is None:
                return f"{text!r}: a hybrid cannot be a leg of another hybrid"
            problems = (route_problem(leg, backends, None) for leg in (inline.reasoning, inline.execution))
            return next((p for p in problems if p), None) or _params_problem(inline.query)
        name, _, query = text.partition("?")
        if hybrids and (name in hybrids or name.partition(":")[0] in hybrids):
            return _params_problem(query)
        selector = parse_selector(text, backends)
    except InvalidRequest as exc:
        return exc.message
    if name not in backends and selector.backend is None:
        configured = ", ".join(sorted({*backends, *(hybrids or ())})) or "none"
        return f"{text!r} names no configured backend (expected <backend> or <backend>:<model>; configured: {configured})"
    return _params_problem(query)


def _params_problem(query: str) -> str | None:
    try:
        parse_params(query)
    except InvalidRequest as exc:
        return exc.message
    return None
