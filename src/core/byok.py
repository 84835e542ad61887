"""A client's own upstream key (bring your own key): taken from the request, never sent on in the
body, never logged or recorded (a record carries its fingerprint), masked in everything returned."""

from __future__ import annotations

import hashlib

from src.frontends.incoming import Incoming
from src.usage.accounting import Accounting
from src.wire.errors import InvalidRequest, PermissionDenied
from src.wire.json_body import without

HEADER = "x-upstream-api-key"
BODY_FIELD = "openrouter_api_key"  # as agent platforms (Sandstorm) send it
MAX_KEY = 1024  # characters


def take_own_key(incoming: Incoming, accounting: Accounting) -> str | None:
    """The client's own upstream key, if it sent one; the body field is removed before forwarding."""
    in_body = incoming.body.get(BODY_FIELD)
    incoming.raw, incoming.body = without(incoming.raw, incoming.body, (BODY_FIELD,))
    key = incoming.headers.get(HEADER) or in_body
    if key is None:
        return None
    if not isinstance(key, str) or not _usable(key.strip()):
        raise InvalidRequest(f"{HEADER}: an upstream key is printable ASCII without spaces", param=BODY_FIELD)
    if not accounting.byok(incoming.key_name):
        raise PermissionDenied(
            f"proxy key {incoming.key_name!r} may not send its own upstream key (it needs byok: true)", code="byok_denied"
        )
    return key.strip()


def fingerprint(key: str) -> str:
    """What a usage record keeps of a client's key: enough to tell keys apart, nothing to use."""
    return "byok:" + hashlib.sha256(key.encode()).hexdigest()[:12]


def _usable(key: str) -> bool:
    return 0 < len(key) <= MAX_KEY and key.isascii() and key.isprintable() and " " not in key
