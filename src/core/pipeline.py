"""The steps every proxied request shares, whatever its protocol.

The body is parsed once, with orjson. Fields the proxy does not own must reach the
upstream exactly as sent, so the few inputs orjson would change or refuse
(integers past 64 bits, lone surrogate escapes, NaN and Infinity) are parsed and
written back by the standard library's json instead, which keeps them as they are.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import orjson

from starlette.types import Receive

from src.core.disconnect import ClientDisconnected
from src.core.errors import InvalidRequest, LoopDetected, RequestTooLarge
from src.core.identity import HOP_HEADER
from src.core.routing import Route

# orjson reads integers outside [-2**63, 2**64) as floats; these digit runs may be one.
_WIDE_INTEGER = re.compile(rb"\d{20}|-\d{19}")
# Maps every digit to b"0" and all else to b" ": a quick C-speed prefilter before the regex,
# which alone would cost more than parsing the body.
_DIGITS_TO_ZEROS = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))


class _StdlibBody(dict):  # type: ignore[type-arg]
    """A body only the standard library reads faithfully, so only it may write it back."""


def reject_loops(headers: Mapping[str, str]) -> None:
    if HOP_HEADER in headers:
        raise LoopDetected(
            "this request came from a Switchyard proxy (x-switchyard-hop): a backend's base_url points back at a proxy"
        )


async def read_body(receive: Receive, headers: Mapping[str, str], limit: int) -> bytes:
    """The raw request body, refused once it passes `limit` bytes (declared or actually sent)."""
    declared = headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _too_large(limit: int) -> RequestTooLarge:
    return RequestTooLarge(f"the request body is larger than {limit / 1048576:g} MiB (max_request_mb)")


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """The request body. Only its top level is looked at."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        body = _stdlib_loads(raw)
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object")
    return body


def _stdlib_loads(raw: bytes) -> Any:
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise InvalidRequest(f"the request body is not valid JSON: {exc}") from None
    return _StdlibBody(body) if isinstance(body, dict) else body


def apply_route(raw: bytes, body: dict[str, Any], route: Route) -> bytes:
    """The body to send upstream: the resolved model and URI parameters in, all else untouched."""
    if body.get("model") == route.model and not route.params:
        return raw  # nothing to rewrite: forward the client's bytes as they came
    return rewrite(raw, body, {"model": route.model, **route.params})


def rewrite(raw: bytes, body: dict[str, Any], changes: dict[str, Any]) -> bytes:
    """`body` with top-level `changes`, every other field kept exactly as the client sent it."""
    if not isinstance(body, _StdlibBody) and _may_hold_wide_integer(raw):
        body = _stdlib_loads(raw)  # orjson may have rounded an integer; only rewritten bodies need this
    routed = {**body, **changes}
    if isinstance(body, _StdlibBody):
        return _stdlib_dumps(routed)
    try:
        return orjson.dumps(routed)
    except TypeError:  # nested deeper than orjson writes
        return _stdlib_dumps(routed)


def _may_hold_wide_integer(raw: bytes) -> bool:
    return b"0" * 19 in raw.translate(_DIGITS_TO_ZEROS) and _WIDE_INTEGER.search(raw) is not None


def _stdlib_dumps(body: dict[str, Any]) -> bytes:
    try:
        return json.dumps(body, separators=(",", ":")).encode("ascii")
    except RecursionError:
        raise InvalidRequest("the request body is nested too deeply") from None
