"""What the proxy hands a Responses client to send back: a signed blob in `encrypted_content`.

A reasoning item carries the upstream's reasoning fields (`reasoning_content`,
`reasoning_details`, `reasoning`), so that when the client sends the item back, the next request
restores them for a model of the same family (DeepSeek and Kimi refuse tool-call turns without
their reasoning) and drops them for another. A compaction item carries the summary of a
conversation. The blob is signed with a key derived from the proxy's own secrets, so a client
cannot make the proxy send fields it did not produce, and every worker reads every other's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from typing import Any

import orjson

PREFIX = "sy1."
MAX_BLOB = 4 * 1024 * 1024  # characters of a blob worth opening


class Carrier:
    def __init__(self, secrets: Iterable[str]) -> None:
        material = "\n".join(sorted(secrets)).encode()
        self._key = hashlib.sha256(b"switchyard-carrier\n" + material).digest()

    def seal(self, kind: str, family: str, data: dict[str, Any]) -> str:
        payload = base64.urlsafe_b64encode(orjson.dumps({"k": kind, "f": family, "d": data})).rstrip(b"=")
        return PREFIX + payload.decode() + "." + self._sign(payload)

    def open(self, blob: object, kind: str) -> tuple[str, dict[str, Any]] | None:
        """(family, data) of a blob this proxy sealed as `kind`; None for anything else."""
        if not isinstance(blob, str) or not blob.startswith(PREFIX) or len(blob) > MAX_BLOB:
            return None
        payload, _, signature = blob[len(PREFIX) :].rpartition(".")
        if not hmac.compare_digest(signature, self._sign(payload.encode())):
            return None
        try:
            sealed = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except (ValueError, orjson.JSONDecodeError):
            return None
        if not isinstance(sealed, dict) or sealed.get("k") != kind or not isinstance(sealed.get("d"), dict):
            return None
        return str(sealed.get("f")), sealed["d"]

    def _sign(self, payload: bytes) -> str:
        return hmac.new(self._key, payload, hashlib.sha256).hexdigest()[:32]


def family(model: str) -> str:
    """A model's family: its vendor prefix (`deepseek/deepseek-r1` -> deepseek), else the model id."""
    vendor, slash, name = model.lstrip("~").partition("/")
    return vendor.lower() if slash else model.lower()
