"""The identity headers sent upstream, by each header's rule: an override, the client's (else a
default), or a default; with no rule, the client's own, else the built-in default."""

from __future__ import annotations

from collections.abc import Mapping

from src import __version__
from src.config import HeaderRule, Identity

HOP_HEADER = "x-switchyard-hop"  # on every upstream request: a backend that loops back is refused at once
DEFAULT_USER_AGENT = f"switchyard/{__version__}"
DEFAULT_TITLE = "Switchyard"


def identity_headers(configured: Identity, client: Mapping[str, str]) -> dict[str, str]:
    """Headers for one upstream request. `client` must look headers up case-insensitively."""
    agent = _sent(configured.user_agent, client_header(client, "user-agent"), DEFAULT_USER_AGENT)
    headers = {"User-Agent": agent or DEFAULT_USER_AGENT}
    referer = _sent(configured.referer, client_header(client, "http-referer"), None)
    if referer:
        headers["HTTP-Referer"] = referer
    theirs = client_header(client, "x-openrouter-title") or client_header(client, "x-title")
    headers["X-Title"] = _sent(configured.title, theirs, DEFAULT_TITLE) or DEFAULT_TITLE
    return headers


def _sent(rule: str | HeaderRule | None, theirs: str | None, builtin: str | None) -> str | None:
    if rule is None:
        return theirs or builtin
    if isinstance(rule, str):
        return rule
    if rule.mode == "override":
        return rule.override_value
    if rule.mode == "passthrough":
        return theirs or rule.default_value or builtin
    return rule.default_value


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
