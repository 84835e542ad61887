"""What the fake upstreams that serve a protocol natively (responses_upstream.py, messages_upstream.py)
share: each request recorded as it came, failures queued with `fail_next`, and `stream_ending`,
which changes how the next streams end (each fake says how)."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.threaded import ThreadedServer

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Answer = Callable[[web.Request, Any], Awaitable[web.StreamResponse]]  # (request, its JSON body)


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    raw: bytes
    query: str = ""

    @property
    def body(self) -> Any:
        return json.loads(self.raw)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


@dataclass
class RecordingUpstream(ThreadedServer):
    requests: list[Seen] = field(default_factory=list)
    port: int = 0
    stream_ending: str = "complete"

    def __post_init__(self) -> None:
        self._failures: deque[int] = deque()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def fail_next(self, *statuses: int) -> None:
        self._failures.extend(statuses)

    def reset(self) -> None:
        self.requests.clear()
        self._failures.clear()
        self.stream_ending = "complete"

    def error_body(self, status: int) -> dict[str, Any]:
        """The body of a failure `fail_next` queued, in the fake's protocol."""
        raise NotImplementedError

    def _recorded(self, answer: Answer) -> Handler:
        """`answer(request, body)` as a route's handler: each request is recorded first, and gets the
        failure `fail_next` queued instead of an answer, if any."""

        async def handle(request: web.Request) -> web.StreamResponse:
            seen = Seen(request.path, dict(request.headers), await request.read(), request.query_string)
            self.requests.append(seen)
            if not self._failures:
                return await answer(request, seen.body)
            status = self._failures.popleft()
            return web.json_response(self.error_body(status), status=status)

        return handle

    @staticmethod
    async def _event_stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        return response
