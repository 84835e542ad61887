"""Proxy keys: who may use the proxy, and each key's limits."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, SecretStr, field_validator

from src.config.strict import Strict, key_text

MIN_PROXY_KEY_LENGTH = 8


class ProxyKey(Strict):
    name: str = Field(min_length=1)
    key: SecretStr
    admin: bool = False  # sees everyone's usage and the metrics
    budget_usd: float | None = Field(None, ge=0)
    budget_period: Literal["daily", "monthly", "total"] = "monthly"
    rpm: int | None = Field(None, ge=1, description="requests per minute")
    allowed_models: list[str] | None = None  # regexes a route's `backend:model` must fully match
    byok: bool = False  # may send its own upstream key (X-Upstream-Api-Key, or openrouter_api_key in the body)
    byok_fallback: bool = False  # ...and fall back to the proxy's own keys and routes when its key fails

    @field_validator("allowed_models")
    @classmethod
    def _patterns(cls, patterns: list[str] | None) -> list[str] | None:
        for pattern in patterns or ():
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"invalid regex {pattern!r}: {exc}") from None
        return patterns

    @field_validator("key")
    @classmethod
    def _usable(cls, value: SecretStr) -> SecretStr:
        key = key_text(value.get_secret_value())
        if not key:
            raise ValueError("is empty")
        if len(key) < MIN_PROXY_KEY_LENGTH:
            raise ValueError(f"is shorter than {MIN_PROXY_KEY_LENGTH} characters: too easy to guess")
        return SecretStr(key)


class AuthConfig(Strict):
    api_keys: list[ProxyKey] = []

    @field_validator("api_keys")
    @classmethod
    def _unique(cls, keys: list[ProxyKey]) -> list[ProxyKey]:
        names = [k.name for k in keys]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate key name(s): {', '.join(duplicates)}")
        return keys
