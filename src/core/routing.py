"""Where a request goes: force_model, then aliases, then the selector, then the default backend."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from src.core.aliases import AliasRule, apply_aliases
from src.core.config import Config
from src.core.errors import InvalidRequest
from src.core.params import parse_params
from src.core.selectors import parse_selector


@dataclass(frozen=True)
class Route:
    backend: str
    model: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.backend}:{self.model}"


@dataclass(frozen=True)
class Router:
    default_backend: str
    backends: frozenset[str]
    aliases: tuple[AliasRule, ...] = ()
    force_model: str | None = None

    @classmethod
    def from_config(cls, config: Config) -> Router:
        return cls(
            default_backend=config.default_backend,
            backends=frozenset(config.backends),
            aliases=tuple(config.model_aliases),
            force_model=config.force_model,
        )

    def resolve(self, requested: object) -> Route:
        model = self.force_model or requested
        if not isinstance(model, str) or not model.strip():
            raise InvalidRequest("'model' is required and must be a non-empty string", param="model")
        selector = parse_selector(apply_aliases(model.strip(), self.aliases), self.backends)
        return Route(selector.backend or self.default_backend, selector.model, parse_params(selector.query))
