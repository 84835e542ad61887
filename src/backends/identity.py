"""The identity headers sent upstream: configured value, else the client's, else a default."""

from __future__ import annotations

from collections.abc import Mapping

from src import __version__
from src.config import Identity

HOP_HEADER = "x-switchyard-hop"  # on every upstream request: a backend that loops back is refused at once
DEFAULT_USER_AGENT = f"switchyard/{__version__}"
DEFAULT_TITLE = "Switchyard"


def identity_headers(configured: Identity, client: Mapping[str, str]) -> dict[str, str]:
    """Headers for one upstream request. `client` must look headers up case-insensitively."""
    headers = {"User-Agent": configured.user_agent or client_header(client, "user-agent") or DEFAULT_USER_AGENT}
    referer = configured.referer or client_header(client, "http-referer")
    if referer:
        headers["HTTP-Referer"] = referer
    title = (
        configured.title
        or client_header(client, "x-openrouter-title")
        or client_header(client, "x-title")
        or DEFAULT_TITLE
    )
    headers["X-Title"] = title
    return headers


def client_header(client: Mapping[str, str], name: str) -> str | None:
    """A client's header, ready to send on. The server decodes header bytes as latin-1 and the
    upstream client encodes as UTF-8, so UTF-8 text (`Café`) is re-decoded to arrive unchanged."""
    value = client.get(name)
    if not value or value.isascii():
        return value
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value
