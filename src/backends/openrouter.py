"""OpenRouter: app attribution headers, round-robin keys, and provider details in errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from src.backends.http import MAX_ERROR_TEXT, HttpBackend


class OpenRouterBackend(HttpBackend):
    takes_client_keys = True  # a tenant's own OpenRouter key (byok)
    passthrough_headers = ("x-session-id", "x-openrouter-metadata", "x-openrouter-categories")

    def headers(
        self, client: Mapping[str, str], key_turn: int | None = None, passthrough: tuple[str, ...] = ()
    ) -> dict[str, str]:
        headers = super().headers(client, key_turn, passthrough)
        # OpenRouter reads X-OpenRouter-Title and still honours the older X-Title; send both.
        headers["X-OpenRouter-Title"] = headers["X-Title"]
        return headers

    def serves_messages(self, model: str) -> bool:
        # OpenRouter's Messages endpoint keeps cache_control and thinking signatures intact for Claude.
        return self.config.anthropic_native and model.lstrip("~").startswith("anthropic/")

    def error_detail(self, error: Mapping[str, Any]) -> str | None:
        # OpenRouter wraps the provider's own error; its text is usually the useful part.
        metadata = error.get("metadata")
        if not isinstance(metadata, dict):
            return None
        provider = metadata.get("provider_name")
        raw = metadata.get("raw")
        if not isinstance(raw, str):
            raw = None
        parts = [f"provider {provider}" if isinstance(provider, str) else None, self.mask.clip(raw, MAX_ERROR_TEXT) if raw else None]
        return ": ".join(p for p in parts if p) or None
