"""What happens after an upstream attempt fails: retry the route, try its next key, move to the
next route, or give up. One pure function, `decide`, with its inputs spelled out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from enum import Enum
from typing import Literal

from src.config import FailoverConfig
from src.wire.errors import UpstreamError, UpstreamStatusError, UpstreamTimeout, UpstreamUnreachable

# Statuses that say this route cannot serve the request now, though another might.
MOVE_ON = frozenset({401, 402, 403, 408, 429, 500, 502, 503, 504, 529})
# Statuses that blame the key, not the backend: the backend's next key may work.
KEY_FAULTS = frozenset({401, 402, 429})
# Statuses whose Retry-After is worth waiting for.
WAIT_FOR = frozenset({429, 503})
BACKOFF = 0.1  # seconds before the first quick retry of a connection; doubles each time

Kind = Literal["status", "connect", "timeout", "protocol"]


class Action(Enum):
    RETRY = "retry the same route"
    NEXT_KEY = "try the backend's next key"
    NEXT_ROUTE = "move to the next route"
    GIVE_UP = "give up"


@dataclass(frozen=True)
class Failure:
    kind: Kind
    status: int  # what the client would get
    retry_after: float | None = None  # seconds


@dataclass(frozen=True)
class History:
    attempts: int  # upstream attempts made for this request, the failed one included
    route_retries: int = 0  # retries of the current route so far
    waited: bool = False  # a Retry-After was already waited for on this route
    keys_left: int = 0  # keys of this backend not yet tried for this request
    routes_left: int = 0  # routes after this one
    elapsed: float = 0.0  # seconds since the request arrived


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str
    wait: float = 0.0


def decide(failure: Failure, history: History, policy: FailoverConfig, jitter: float = 1.0) -> Decision:
    """`jitter` in [0.5, 1] spreads the quick retries of many clients; tests pass 1."""
    if not moves_on(failure):
        return Decision(Action.GIVE_UP, f"a {failure.status} is the request's own problem")
    if history.attempts >= policy.max_attempts:
        return Decision(Action.GIVE_UP, f"max_attempts ({policy.max_attempts}) reached")
    remaining = policy.deadline - history.elapsed
    if remaining <= 0:
        return Decision(Action.GIVE_UP, f"the deadline ({policy.deadline:g}s) passed")
    if failure.status in KEY_FAULTS and failure.kind == "status" and history.keys_left:
        return Decision(Action.NEXT_KEY, f"{failure.status} blames the key")
    wait = failure.retry_after
    if failure.status in WAIT_FOR and wait is not None and not history.waited and wait <= min(policy.max_retry_wait, remaining):
        return Decision(Action.RETRY, f"Retry-After {wait:g}s", wait)
    if failure.kind == "connect" and history.route_retries < policy.connect_retries:
        wait = BACKOFF * 2**history.route_retries * jitter
        if wait < remaining:
            return Decision(Action.RETRY, "connection failed", wait)
    if not history.routes_left:
        return Decision(Action.GIVE_UP, "no route left")
    return Decision(Action.NEXT_ROUTE, "route failed")


def moves_on(failure: Failure) -> bool:
    return failure.kind != "status" or failure.status in MOVE_ON or failure.status >= 500


def classify(error: UpstreamError, now: float) -> Failure:
    """`now` is the wall-clock time, for a Retry-After given as an HTTP date."""
    if isinstance(error, UpstreamStatusError):
        return Failure("status", error.status, retry_after_seconds(error.retry_after, now))
    if isinstance(error, UpstreamTimeout):
        return Failure("timeout", error.status)
    if isinstance(error, UpstreamUnreachable):
        return Failure("connect", error.status)
    return Failure("protocol", error.status)


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """Retry-After as seconds from now: a number of seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            date = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        # HTTP dates are always GMT; the asctime form just does not say so.
        seconds = (date if date.tzinfo else date.replace(tzinfo=UTC)).timestamp() - now
    return max(seconds, 0.0) if seconds == seconds else None  # NaN is no answer
