"""One client request as a front-end receives it from `src.core`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from src.usage.meter import Meter


@dataclass
class Incoming:
    """Authenticated; for the endpoints that take a body, that body read and parsed once."""

    headers: dict[str, str]  # the client's, lower-case names
    key_name: str  # the proxy key's name, never the key
    tail: str = ""  # the rest of the path after a prefix route (`/v1/models/<tail>`)
    query: Mapping[str, str] = field(default_factory=dict)
    raw: bytes = b""
    body: dict[str, Any] = field(default_factory=dict)
    meter: Meter | None = None  # on the endpoints whose requests are recorded
    upstream_key: str | None = None  # the client's own upstream key (byok), never logged or recorded

    @property
    def metered(self) -> Meter:
        assert self.meter is not None, "a proxied endpoint is always metered"
        return self.meter
