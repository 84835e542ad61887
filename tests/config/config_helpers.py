"""Shared by the tests of src/config/schema.py and its parts: a minimal valid configuration and its first error."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from src.config import Config, OpenAIBackendConfig

LOCAL = {"type": "openai", "base_url": "http://127.0.0.1:9/v1"}


def minimal(**overrides: Any) -> dict[str, Any]:
    """A valid configuration that needs no upstream key, with top-level overrides."""
    data: dict[str, Any] = {"backends": {"local": dict(LOCAL)}, "default_backend": "local"}
    data.update(overrides)
    return data


def first_error(data: dict[str, Any]) -> ErrorDetails:
    with pytest.raises(ValidationError) as caught:
        Config.model_validate(data)
    return caught.value.errors()[0]


def openai_backend(config: Config, name: str) -> OpenAIBackendConfig:
    """The backend `name`, which the test configured with `type: openai`."""
    backend = config.backends[name]
    assert isinstance(backend, OpenAIBackendConfig)
    return backend
