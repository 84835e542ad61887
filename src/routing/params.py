"""URI parameters in a model string (`model?temperature=0.7&top_k=40`).

Each parameter overrides the body field of the same name. An unknown name or a
bad value is the client's error: nothing is silently dropped.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from src.wire.errors import InvalidRequest

Parser = Callable[[str], Any]


# Plain ASCII decimals only: Python's float() and int() would also take `1_0`, `١` or ` 1 `.
_DECIMAL = re.compile(r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", re.ASCII)
_INTEGER = re.compile(r"-?\d+", re.ASCII)


def _number(low: float, high: float) -> Parser:
    def parse(text: str) -> float:
        value = float(text) if _DECIMAL.fullmatch(text) else math.nan
        if not math.isfinite(value) or not low <= value <= high:
            raise ValueError(f"must be a number from {low:g} to {high:g}")
        return value

    return parse


def _integer(minimum: int, maximum: int) -> Parser:
    expected = f"an integer from {minimum} to {maximum}"

    def parse(text: str) -> int:
        if not _INTEGER.fullmatch(text):
            raise ValueError(f"must be {expected}")
        value = int(text)
        if not minimum <= value <= maximum:
            raise ValueError(f"must be {expected}")
        return value

    return parse


def _choice(*allowed: str) -> Parser:
    def parse(text: str) -> str:
        if text not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return text

    return parse


INT32_MAX = 2**31 - 1
INT64 = (-(2**63), 2**63 - 1)

PARAMETERS: dict[str, Parser] = {
    "temperature": _number(0, 2),
    "top_p": _number(0, 1),
    "top_k": _integer(1, INT32_MAX),
    "max_tokens": _integer(1, INT32_MAX),
    "frequency_penalty": _number(-2, 2),
    "presence_penalty": _number(-2, 2),
    "seed": _integer(*INT64),
    "reasoning_effort": _choice("none", "minimal", "low", "medium", "high", "xhigh"),
    "verbosity": _choice("low", "medium", "high"),
}


def parse_params(query: str) -> dict[str, Any]:
    """Parse and validate `k=v&k2=v2`; raise InvalidRequest naming the bad parameter."""
    params: dict[str, Any] = {}
    for item in filter(None, query.split("&")):
        name, sep, raw = item.partition("=")
        name = unquote(name)
        if name not in PARAMETERS:
            known = ", ".join(PARAMETERS)
            raise InvalidRequest(f"unknown model parameter {name!r} (supported: {known})", param=name)
        if not sep or not raw:
            raise InvalidRequest(f"model parameter {name!r} has no value", param=name)
        if name in params:
            raise InvalidRequest(f"model parameter {name!r} is given twice", param=name)
        params[name] = _parse_value(name, unquote(raw))
    return params


def _parse_value(name: str, text: str) -> Any:
    try:
        return PARAMETERS[name](text)
    except ValueError as exc:
        raise InvalidRequest(f"model parameter {name!r}={text!r}: {exc}", param=name) from None
