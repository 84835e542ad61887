"""One request's usage record, the upstream attempts within it, and its token counts."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

OK = "ok"  # the outcome of an attempt that succeeded; any other outcome is a short failure reason


def new_request_id() -> str:
    """48 bits of milliseconds, then 80 random bits (UUIDv7's layout, less its version bits).

    The usage stores keep one record per id through a unique index. Ids that grow with time are
    added at its right edge; random ones land on a different page of it for every record, which
    doubled the SQLite writer's cost per record once the table held a few hundred thousand."""
    return f"{time.time_ns() // 1_000_000:012x}{random.getrandbits(80):020x}"  # an id, not a secret: no syscall


@dataclass(slots=True)  # not frozen: made for every request, where frozen costs twice as much
class Attempt:
    """One try of one route (`backend:model`) within a request, success or failure."""

    route: str
    status: int | None  # the upstream's HTTP status; None when it never answered (timeout, refused)
    outcome: str  # OK, or a short reason such as "timeout", "connect", "status_429"
    latency_ms: float


@dataclass(slots=True)  # not frozen: made for every request, where frozen costs twice as much
class Tokens:
    """The token counts and reported cost of an upstream usage object; None where unknown."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    reasoning_tokens: int | None = None
    cached_tokens: int | None = None
    cost: float | None = None  # OpenRouter's `usage.cost`, in USD


class UsageRecord(NamedTuple):  # immutable, as it goes to the writer thread, and the cheapest such object to make
    """Everything recorded about one request. Never holds a key, only the key's name."""

    time: float  # unix seconds at which the request started
    key_name: str
    user_agent: str | None
    frontend: str  # "openai", "anthropic" or "responses"
    requested_model: str
    status: int  # the HTTP status the client got
    # Unique per request (new_request_id): the store skips a record whose id it holds already, so
    # a batch written again after a commit whose acknowledgement was lost never counts twice.
    request_id: str
    attempts: tuple[Attempt, ...] = ()
    route: str | None = None  # the final `backend:model`; None when no backend was reached
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    reasoning_tokens: int | None = None
    cached_tokens: int | None = None
    cost_usd: float | None = None
    latency_ms: float = 0.0
    ttft_ms: float | None = None  # time to first token, streams only
    stream: bool = False
    upstream_key: str | None = None  # the fingerprint of a client's own upstream key (byok), never the key

    @property
    def backend(self) -> str | None:
        return split_route(self.route)[0]

    @property
    def model(self) -> str | None:
        return split_route(self.route)[1]

    @property
    def failed(self) -> bool:
        return self.status >= 400


def split_route(route: str | None) -> tuple[str | None, str | None]:
    """`backend:model` as (backend, model); the model may itself hold colons (`x/y:free`)."""
    if not route:
        return None, None
    backend, colon, model = route.partition(":")
    return (backend, model) if colon else (None, route)


def usage_from(usage: Mapping[str, Any] | None) -> Tokens:
    """The counts of an OpenAI/OpenRouter `usage` object. A missing or malformed field is None."""
    if not isinstance(usage, dict):  # parsed JSON: a dict, and the check costs a fraction of Mapping's
        return Tokens()
    completion_details = usage.get("completion_tokens_details")
    prompt_details = usage.get("prompt_tokens_details")
    return Tokens(
        prompt_tokens=_count(usage.get("prompt_tokens")),
        completion_tokens=_count(usage.get("completion_tokens")),
        reasoning_tokens=_detail(completion_details, "reasoning_tokens"),
        cached_tokens=_detail(prompt_details, "cached_tokens"),
        cost=_amount(usage.get("cost")),
    )


def _detail(details: object, field: str) -> int | None:
    return _count(details.get(field)) if isinstance(details, dict) else None


def _count(value: object) -> int | None:
    """A token count: a non-negative integer (or a float holding one), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    return None


def _amount(value: object) -> float | None:
    """An amount of USD: a finite, non-negative number, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        amount = float(value)
    except OverflowError:  # an int wider than a float
        return None
    return amount if math.isfinite(amount) and amount >= 0 else None
