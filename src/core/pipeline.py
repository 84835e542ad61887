"""The steps every proxied request shares, whatever its protocol.

The body is parsed once, with orjson. Fields the proxy does not own must reach the
upstream exactly as sent, so the few inputs orjson would change or refuse
(integers past 64 bits, lone surrogate escapes, NaN) go through the standard
library's json instead, which keeps them as they are.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

from src.core.errors import InvalidRequest
from src.core.routing import Route

# orjson reads integers wider than 64 bits as floats; 20 digits in a row may be one.
_WIDE_INTEGER = re.compile(rb"\d{20}")


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """The request body. Only its top level is looked at."""
    try:
        body = json.loads(raw) if _WIDE_INTEGER.search(raw) else orjson.loads(raw)
    except orjson.JSONDecodeError:
        body = _strict_stdlib_loads(raw)
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object")
    return body


def _strict_stdlib_loads(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise InvalidRequest(f"the request body is not valid JSON: {exc}") from None


def apply_route(raw: bytes, body: dict[str, Any], route: Route) -> bytes:
    """The body to send upstream: the resolved model and URI parameters in, all else untouched."""
    if body.get("model") == route.model and not route.params:
        return raw  # nothing to rewrite: forward the client's bytes as they came
    routed = {**body, "model": route.model, **route.params}
    if _WIDE_INTEGER.search(raw):
        return _stdlib_dumps(routed)
    try:
        return orjson.dumps(routed)
    except TypeError:  # a lone surrogate the standard library let through
        return _stdlib_dumps(routed)


def _stdlib_dumps(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode("ascii")
