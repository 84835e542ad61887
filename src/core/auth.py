"""Proxy keys: clients authenticate to Switchyard, never with an upstream key."""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from src.wire.errors import AuthenticationFailed

ANONYMOUS = "anonymous"


class ProxyKeys:
    """Checks the key a client sent. Accepts `Authorization: Bearer KEY` or `x-api-key: KEY`."""

    def __init__(self, keys: Mapping[str, str], *, disabled: bool = False) -> None:
        self._keys = tuple((name, key.encode()) for name, key in keys.items())
        self._disabled = disabled

    def authenticate(self, headers: Mapping[str, str]) -> str:
        """The name of the key the client sent; raise AuthenticationFailed if it is not ours."""
        if self._disabled:
            return ANONYMOUS
        presented = _presented_key(headers)
        if presented is None:
            raise AuthenticationFailed(
                "missing proxy key: send 'Authorization: Bearer <key>' or 'x-api-key: <key>'",
                code="invalid_api_key",
            )
        candidate = presented.encode()
        matched = None
        # Compare against every key, so the time taken does not reveal which one (if any) matched.
        for name, key in self._keys:
            if hmac.compare_digest(candidate, key) and matched is None:
                matched = name
        if matched is None:
            raise AuthenticationFailed("invalid proxy key", code="invalid_api_key")
        return matched


def _presented_key(headers: Mapping[str, str]) -> str | None:
    authorization = headers.get("authorization")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    api_key = headers.get("x-api-key")
    return api_key.strip() if api_key and api_key.strip() else None
