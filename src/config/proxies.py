"""Outbound proxies: a backend's `proxy:` setting, else the environment's, as curl, httpx and aiohttp read it.

HTTPS_PROXY serves https upstreams and HTTP_PROXY http ones, ALL_PROXY either when those are unset;
NO_PROXY lists hosts (and domain suffixes) that go direct. Lower-case names win over upper-case
ones, as they do for curl. Only http:// proxies are spoken to (CONNECT for https upstreams);
a value without a scheme is taken as http://, as curl does.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from urllib.parse import unquote, urlsplit
from urllib.request import proxy_bypass_environment  # type: ignore[attr-defined]  # public, missing from typeshed

from pydantic import SecretStr

ENVIRONMENT_DEFAULT = "environment"  # a backend without `proxy:` follows the environment


def proxy_problem(url: str) -> str | None:
    """Why `url` cannot be used as an outbound proxy, or None. Never quotes it: it may hold a password."""
    parts = urlsplit(with_scheme(url))
    if parts.scheme != "http":
        return f"{parts.scheme}:// proxies are not supported; give an http:// proxy (https upstreams are tunnelled)"
    if not parts.hostname or " " in url:
        return "must be http://[user:password@]host:port"
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return "has an invalid port"
    if parts.path not in ("", "/") or parts.query:
        return "must be http://[user:password@]host:port, without a path"
    return None


def with_scheme(url: str) -> str:
    return url if "://" in url else f"http://{url}"


def environment_proxy(upstream_url: str, environ: Mapping[str, str]) -> tuple[str, str] | None:
    """(variable, proxy URL) that the environment gives for `upstream_url`, or None to go direct."""
    parts = urlsplit(upstream_url)
    no_proxy = _variable("no_proxy", environ)
    host = parts.hostname or ""
    if no_proxy and proxy_bypass_environment(f"{host}:{parts.port}" if parts.port else host, {"no": no_proxy[1]}):
        return None
    return _variable(f"{parts.scheme}_proxy", environ) or _variable("all_proxy", environ)


def proxy_secrets(url: str) -> tuple[str, ...]:
    """What of a proxy URL must never reach a log or a client: its password and its Basic credentials."""
    parts = urlsplit(with_scheme(url))
    if parts.password is None and parts.username is None:
        return ()
    user, password = unquote(parts.username or ""), unquote(parts.password or "")
    basic = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return tuple(s for s in (parts.password, password, basic) if s)


def masked(url: SecretStr | str | None) -> str | None:
    """The proxy URL to show an operator: its password replaced."""
    if url is None:
        return None
    text = url.get_secret_value() if isinstance(url, SecretStr) else url
    parts = urlsplit(with_scheme(text))
    if parts.password is None:
        return with_scheme(text)
    return with_scheme(text).replace(f":{parts.password}@", ":***@", 1)


def _variable(name: str, environ: Mapping[str, str]) -> tuple[str, str] | None:
    for variable in (name, name.upper()):
        value = environ.get(variable, "").strip()
        if value:
            return variable, value
    return None
