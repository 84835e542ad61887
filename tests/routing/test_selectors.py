"""parse_selector: a prefix names a backend only when it is a configured backend name."""

from __future__ import annotations

import pytest

from src.routing.selectors import Selector, parse_selector
from src.wire.errors import InvalidRequest

BACKENDS = frozenset({"openrouter", "openai", "ollama"})


@pytest.mark.parametrize(
    ("text", "backends", "expected"),
    [
        # backend:model, model ids keep their own colons
        ("openrouter:anthropic/claude-3-haiku:beta", BACKENDS, ("openrouter", "anthropic/claude-3-haiku:beta", "")),
        ("openai:gpt-4o", BACKENDS, ("openai", "gpt-4o", "")),
        ("ollama:llama3:8b", BACKENDS, ("ollama", "llama3:8b", "")),
        ("openrouter:qwen/qwen3-coder:free", BACKENDS, ("openrouter", "qwen/qwen3-coder:free", "")),
        ("openrouter:a:b:c:d", BACKENDS, ("openrouter", "a:b:c:d", "")),
        ("openai:openrouter:gpt-4o", BACKENDS, ("openai", "openrouter:gpt-4o", "")),
        # tilde ids
        ("~anthropic/claude-sonnet-latest", BACKENDS, (None, "~anthropic/claude-sonnet-latest", "")),
        ("openrouter:~anthropic/claude-sonnet-latest", BACKENDS, ("openrouter", "~anthropic/claude-sonnet-latest", "")),
        ("openrouter/~anthropic/claude-sonnet-latest", BACKENDS, ("openrouter", "~anthropic/claude-sonnet-latest", "")),
        # model-only: the prefix before ':' is not a configured backend
        ("qwen/qwen3-coder:free", BACKENDS, (None, "qwen/qwen3-coder:free", "")),
        ("llama3:8b", BACKENDS, (None, "llama3:8b", "")),
        ("a:b:c:d", BACKENDS, (None, "a:b:c:d", "")),
        ("anthropic/claude-3-haiku:beta", BACKENDS, (None, "anthropic/claude-3-haiku:beta", "")),
        ("gpt-4o", BACKENDS, (None, "gpt-4o", "")),
        ("openrouter:gpt-4o", frozenset({"openai"}), (None, "openrouter:gpt-4o", "")),
        ("llama3:8b", frozenset(), (None, "llama3:8b", "")),
        # ...but a prefix that *is* a configured backend name is one
        ("llama3:8b", frozenset({"llama3"}), ("llama3", "8b", "")),
        # backend/vendor/model
        ("openrouter/openai/gpt-4o", BACKENDS, ("openrouter", "openai/gpt-4o", "")),
        ("openrouter/openai/gpt-4o:online", BACKENDS, ("openrouter", "openai/gpt-4o:online", "")),
        ("openrouter/openai/gpt-4o", frozenset({"openai"}), (None, "openrouter/openai/gpt-4o", "")),
        ("openrouter/auto", BACKENDS, (None, "openrouter/auto", "")),
        ("openrouter/auto?temperature=1", BACKENDS, (None, "openrouter/auto", "temperature=1")),
        ("openrouter/auto?x=a/b", BACKENDS, (None, "openrouter/auto", "x=a/b")),
        ("openai/gpt-4o", BACKENDS, (None, "openai/gpt-4o", "")),
        # query split off
        ("gpt-4o?temperature=0.7", BACKENDS, (None, "gpt-4o", "temperature=0.7")),
        ("openai:gpt-4o?temperature=0.7&top_k=40", BACKENDS, ("openai", "gpt-4o", "temperature=0.7&top_k=40")),
        (
            "openrouter/openai/gpt-4o?temperature=1",
            BACKENDS,
            ("openrouter", "openai/gpt-4o", "temperature=1"),
        ),
        ("llama3:8b?seed=3", BACKENDS, (None, "llama3:8b", "seed=3")),
        ("gpt-4o?", BACKENDS, (None, "gpt-4o", "")),
        ("gpt-4o?a=1?b=2", BACKENDS, (None, "gpt-4o", "a=1?b=2")),
    ],
)
def test_parse_selector(text: str, backends: frozenset[str], expected: tuple[str | None, str, str]) -> None:
    result = parse_selector(text, backends)
    assert isinstance(result, Selector)
    assert tuple(result) == expected
    assert (result.backend, result.model, result.query) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "openrouter:",
        "openrouter:?temperature=1",
        "openai:?",
        "?temperature=1",
        "?",
    ],
)
def test_parse_selector_rejects_empty_model(text: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_selector(text, BACKENDS)
    assert caught.value.param == "model"
    assert caught.value.status == 400
