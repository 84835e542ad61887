"""The steps every proxied request shares, whatever its protocol."""

from __future__ import annotations

from typing import Any

import orjson

from src.core.errors import InvalidRequest
from src.core.routing import Route


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """The request body, parsed once. Only its top level is looked at."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object")
    return body


def apply_route(body: dict[str, Any], route: Route) -> bytes:
    """The body to send upstream: the resolved model and URI parameters in, all else untouched."""
    body["model"] = route.model
    body.update(route.params)
    return orjson.dumps(body)
