"""Backends, one module per type, and the registry that builds them from the configuration."""

from __future__ import annotations

from src.backends.base import Backend
from src.backends.openai import OpenAIBackend
from src.backends.openrouter import OpenRouterBackend
from src.core.config import Config, HybridBackendConfig
from src.transports.base import Transport

BACKEND_CLASSES: dict[str, type[Backend]] = {
    "openai": OpenAIBackend,
    "openrouter": OpenRouterBackend,
}


def build_backends(config: Config, transport: Transport) -> dict[str, Backend]:
    """The backends that speak HTTP. Hybrid backends only combine these (src/backends/hybrid.py)."""
    return {
        name: BACKEND_CLASSES[backend.type](name, backend, transport, config.identity)
        for name, backend in config.backends.items()
        if not isinstance(backend, HybridBackendConfig)
    }
