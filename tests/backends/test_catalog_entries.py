"""public_model: one backend's model entry as the catalog lists it, with an id a client can send back."""

from __future__ import annotations

from typing import Any

import pytest

from src.backends.catalog import public_model

PRICING = {"prompt": "0.0000025", "completion": "0.00001"}


@pytest.mark.parametrize(
    ("raw", "backend", "is_default", "expected"),
    [
        # default backend: the plain id
        (
            {"id": "gpt-4o", "object": "model", "created": 1715367049, "owned_by": "system"},
            "openai",
            True,
            {"id": "gpt-4o", "object": "model", "created": 1715367049, "owned_by": "system"},
        ),
        # another backend: backend:id, owned_by from the vendor prefix, OpenRouter fields kept
        (
            {
                "id": "openai/gpt-4o",
                "name": "OpenAI: GPT-4o",
                "created": 1715367049,
                "context_length": 128000,
                "pricing": PRICING,
                "description": "dropped",
            },
            "openrouter",
            False,
            {
                "id": "openrouter:openai/gpt-4o",
                "object": "model",
                "created": 1715367049,
                "owned_by": "openai",
                "name": "OpenAI: GPT-4o",
                "context_length": 128000,
                "pricing": PRICING,
            },
        ),
        (
            {"id": "anthropic/claude-3-haiku:beta", "context_length": 200000},
            "openrouter",
            True,
            {
                "id": "anthropic/claude-3-haiku:beta",
                "object": "model",
                "created": 0,
                "owned_by": "anthropic",
                "context_length": 200000,
            },
        ),
        # a ~ id: the vendor is after the tilde
        (
            {"id": "~anthropic/claude-sonnet-latest"},
            "openrouter",
            False,
            {
                "id": "openrouter:~anthropic/claude-sonnet-latest",
                "object": "model",
                "created": 0,
                "owned_by": "anthropic",
            },
        ),
        # no vendor prefix, no owned_by: the backend owns it
        (
            {"id": "llama3:8b", "created": "yesterday"},
            "ollama",
            False,
            {"id": "ollama:llama3:8b", "object": "model", "created": 0, "owned_by": "ollama"},
        ),
        # the backend's own owned_by wins over the vendor prefix
        (
            {"id": "meta/llama-3", "owned_by": "library"},
            "local",
            False,
            {"id": "local:meta/llama-3", "object": "model", "created": 0, "owned_by": "library"},
        ),
        # fields set to None are not copied
        (
            {"id": "x/y", "context_length": None, "pricing": None, "top_provider": {"is_moderated": True}},
            "openrouter",
            True,
            {"id": "x/y", "object": "model", "created": 0, "owned_by": "x", "top_provider": {"is_moderated": True}},
        ),
    ],
)
def test_public_model(raw: dict[str, Any], backend: str, is_default: bool, expected: dict[str, Any]) -> None:
    assert public_model(raw, backend, is_default) == expected
