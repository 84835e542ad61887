"""Backends, one module per type behind `base.Backend`, and the registry that builds them.

Every backend the configuration names is built here; so is the hybrid that an inline
`hybrid:[r,e]` model string names, when no backend of that name is configured.
"""

from __future__ import annotations

from src.backends.base import Backend
from src.backends.http import AnswerLimits, HttpBackend
from src.backends.hybrid import DEFAULT_REASONING_TIMEOUT, HybridBackend
from src.backends.openai import OpenAIBackend
from src.backends.openrouter import OpenRouterBackend
from src.config import Config, HybridBackendConfig
from src.routing.selectors import INLINE_COMPOSITE
from src.transports.base import Transport

HTTP_BACKENDS: dict[str, type[HttpBackend]] = {
    "openai": OpenAIBackend,
    "openrouter": OpenRouterBackend,
}


def build_backends(config: Config, transport: Transport) -> dict[str, Backend]:
    """Every backend by name. Hybrids get the registry itself, to reach their legs' backends."""
    backends: dict[str, Backend] = {}
    limits = AnswerLimits(int(config.max_response_mb * 1024 * 1024), int(config.max_event_mb * 1024 * 1024))
    for name, settings in config.backends.items():
        if isinstance(settings, HybridBackendConfig):
            backends[name] = HybridBackend(name, backends, settings.reasoning_timeout)
        else:
            backends[name] = HTTP_BACKENDS[settings.type](name, settings, transport, config.identity, limits)
    backends.setdefault(INLINE_COMPOSITE, HybridBackend(INLINE_COMPOSITE, backends, DEFAULT_REASONING_TIMEOUT))
    return backends


__all__ = ["Backend", "build_backends"]
