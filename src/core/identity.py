"""The identity headers sent upstream: configured value, else the client's, else a default."""

from __future__ import annotations

from collections.abc import Mapping

from src import __version__
from src.core.config import Identity

DEFAULT_USER_AGENT = f"switchyard/{__version__}"
DEFAULT_TITLE = "Switchyard"


def identity_headers(configured: Identity, client: Mapping[str, str]) -> dict[str, str]:
    """Headers for one upstream request. `client` must look headers up case-insensitively."""
    headers = {"User-Agent": configured.user_agent or client.get("user-agent") or DEFAULT_USER_AGENT}
    referer = configured.referer or client.get("http-referer")
    if referer:
        headers["HTTP-Referer"] = referer
    title = configured.title or client.get("x-openrouter-title") or client.get("x-title") or DEFAULT_TITLE
    headers["X-Title"] = title
    return headers
