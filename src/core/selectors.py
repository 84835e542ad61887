"""Model selectors: `backend:model?k=v`, `backend/vendor/model`, or a bare model id.

Model ids are opaque: they may hold `/`, `:` and `~` (`qwen/qwen3-coder:free`,
`llama3:8b`, `~anthropic/claude-sonnet-latest`), so a prefix names a backend
only when it is the name of a configured backend.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import NamedTuple

from src.core.errors import InvalidRequest


class Selector(NamedTuple):
    backend: str | None
    model: str
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
