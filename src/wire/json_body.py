"""JSON request bodies: parsed once, rewritten at the top level only, everything else kept as sent.

The body is parsed once, with orjson. Fields the proxy does not own must reach the upstream
exactly as sent, so the few inputs orjson would change or refuse (integers past 64 bits, lone
surrogate escapes, NaN and Infinity, nesting past its depth limit) are parsed and written back
by the standard library's json instead, which keeps them as they are. Nesting too deep for
either is refused with a 400, never a 500.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

from src.wire.errors import InvalidRequest

# orjson reads integers outside [-2**63, 2**64) as floats; these digit runs may be one.
_WIDE_INTEGER = re.compile(rb"\d{20}|-\d{19}")
# Maps every digit to b"0" and all else to b" ": a quick C-speed prefilter before the regex,
# which alone would cost more than parsing the body.
_DIGITS_TO_ZEROS = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))


class _StdlibBody(dict[str, Any]):
    """A body only the standard library reads faithfully, so only it may write it back."""


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """The request body. Only its top level is looked at."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        body = _stdlib_loads(raw)
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object")
    return body


def upstream_json(data: bytes | str) -> Any:
    """An upstream's JSON. orjson refuses integers past 64 bits (and the standard library those past
    4,300 digits): those are read by the standard library, the longest as floats, so that an error
    with an absurd `code` is still seen as an error. Raises orjson.JSONDecodeError for anything else."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        if data.lstrip()[:1] not in (b"{", b"[", "{", "["):
            raise
        try:
            return json.loads(data, parse_int=_any_int)
        except (ValueError, RecursionError):
            pass
        raise


def _any_int(text: str) -> int | float:
    return int(text) if len(text) < 4000 else float(text)


def _stdlib_loads(raw: bytes) -> Any:
    try:
        body = json.loads(raw)
    except RecursionError:
        raise InvalidRequest("the request body is nested too deeply") from None
    except ValueError as exc:
        raise InvalidRequest(f"the request body is not valid JSON: {exc}") from None
    return _StdlibBody(body) if isinstance(body, dict) else body


def without(raw: bytes, body: dict[str, Any], removed: tuple[str, ...]) -> tuple[bytes, dict[str, Any]]:
    """The raw body and the parsed one, both without the `removed` top-level fields."""
    if body.keys().isdisjoint(removed):
        return raw, body
    return rewrite(raw, body, {}, removed), type(body)((k, v) for k, v in body.items() if k not in removed)


def rewrite(raw: bytes, body: dict[str, Any], changes: dict[str, Any], removed: tuple[str, ...] = ()) -> bytes:
    """`body` with top-level `changes` (and without the `removed` fields), every other field kept
    exactly as the client sent it."""
    if not changes and not removed:
        return raw
    if not isinstance(body, _StdlibBody) and _may_hold_wide_integer(raw):
        body = _stdlib_loads(raw)  # orjson may have rounded an integer; only rewritten bodies need this
    routed = {**body, **changes}
    if removed:
        routed = {key: value for key, value in routed.items() if key not in removed}
    return _stdlib_dumps(routed) if isinstance(body, _StdlibBody) else dumps(routed)


def dumps(value: Any) -> bytes:
    """JSON for a body the proxy built (a translated request): orjson, else the standard library
    for what orjson will not write (nesting past its depth limit); too deep for both is a 400."""
    try:
        return orjson.dumps(value)
    except TypeError:  # also a lone surrogate (`\ud800` in what a client sent), which orjson will not write
        return _stdlib_dumps(value)


def _may_hold_wide_integer(raw: bytes) -> bool:
    return b"0" * 19 in raw.translate(_DIGITS_TO_ZEROS) and _WIDE_INTEGER.search(raw) is not None


def _stdlib_dumps(body: Any) -> bytes:
    try:
        return json.dumps(body, separators=(",", ":")).encode("ascii")
    except RecursionError:
        raise InvalidRequest("the request body is nested too deeply") from None
    except (TypeError, ValueError) as exc:
        raise InvalidRequest(f"the request body cannot be written as JSON: {exc}") from None
