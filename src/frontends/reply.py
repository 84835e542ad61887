"""What an endpoint answers with. `src.core.delivery` sends it, through the one redaction step."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from src.wire.errors import ProxyError
from src.wire.json_body import dumps
from src.wire.protocol import WireProtocol
from src.wire.sse import Event

After = Callable[[], Awaitable[None]]
Close = Callable[[ProxyError | None], Awaitable[None]]


@dataclass
class BodyReply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    media_type: str = "application/json"
    after: After | None = None  # once the body is out: the usage record


@dataclass
class StreamReply:
    events: AsyncIterator[list[Event]]
    close: Close  # when the stream ends, however it ends (with the failure that ended it, if the proxy did)
    protocol: WireProtocol  # whose error event ends the stream should sending it fail
    headers: dict[str, str] = field(default_factory=dict)


Reply = BodyReply | StreamReply


def json_reply(value: Any, status: int = 200, headers: dict[str, str] | None = None, after: After | None = None) -> BodyReply:
    return BodyReply(status, dumps(value), headers or {}, after=after)  # what orjson cannot write, too
