"""A hostile fake upstream on 127.0.0.1: it answers exactly the bytes a test scripts, and echoes
the upstream key it received wherever the script says.

`hostile.script("m", Reply(status=500, body=b'{"error": {"message": "bad key @KEY@"}}'))` makes
the next request for model `m` get that 500, with `@KEY@` replaced by the key of the request's
`Authorization` header and `@KEY_JSON@` by the key as a JSON string writes it with every `/` as
`\\/` (PHP's way); both are replaced in headers too. Once a model's replies are used up it answers
with `echo_completion()` or, for `stream: true`, `echo_stream()`: the key in every place it can be
(with `plain=True`: a normal answer instead, `plain_completion()` or `plain_stream()`).

Chat completions, Responses and Messages (`/v1/chat/completions`, `/v1/responses`, `/v1/messages`)
all take scripts; `GET /v1/models` lists a model whose id, name and description quote the key.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.threaded import ThreadedServer

KEY = b"@KEY@"
KEY_JSON = b"@KEY_JSON@"
ECHO_HEADERS = {"x-request-id": "@KEY@", "x-generation-id": "@KEY@", "retry-after": "@KEY@"}
USAGE = {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10, "cost": 0.0001}


@dataclass
class Reply:
    """What the upstream answers to one request: a whole body, or an SSE stream of `events`."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    events: list[bytes] | None = None  # each written as it is, followed by a blank line
    content_type: str = "application/json"
    forever: bool = False  # after `events`, a content chunk every 50 ms until the reader goes away
    delay: float = 0.0  # seconds the upstream says nothing before it answers


@dataclass
class Received:
    path: str
    key: str
    headers: dict[str, str]
    body: Any


@dataclass
class HostileUpstream(ThreadedServer):
    port: int = 0
    requests: list[Received] = field(default_factory=list)
    hung_up: list[str] = field(default_factory=list)  # models whose endless stream the proxy closed
    plain: bool = False  # unscripted requests get a normal answer rather than the key echoed

    def __post_init__(self) -> None:
        self._replies: dict[str, deque[Reply]] = defaultdict(deque)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, model: str, *replies: Reply) -> None:
        self._replies[model].extend(replies)

    def reset(self) -> None:
        self.requests.clear()
        self.hung_up.clear()
        self._replies.clear()

    def routes(self, app: web.Application) -> None:
        for path in ("/v1/chat/completions", "/v1/responses", "/v1/messages"):
            app.router.add_post(path, self._answer)
        app.router.add_get("/v1/models", self._models)

    async def _models(self, request: web.Request) -> web.Response:
        key = _key(request)
        listing = {"data": [{"id": f"vendor/{key}", "name": key, "description": f"served with {key}"}]}
        return web.json_response(listing, headers={"x-request-id": key})

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        key = _key(request)
        try:
            body = json.loads(await request.read())
        except (ValueError, RecursionError):  # whatever the proxy forwards, this upstream answers
            body = None
        self.requests.append(Received(request.path, key, dict(request.headers), body))
        body = body if isinstance(body, dict) else {}
        model = str(body.get("model"))
        replies = self._replies.get(model)
        reply = replies.popleft() if replies else self._default(body.get("stream") is True)
        headers = {name: _fill(value.encode(), key).decode() for name, value in reply.headers.items()}
        if reply.delay:
            try:
                await asyncio.sleep(reply.delay)
            except asyncio.CancelledError:
                self.hung_up.append(model)
                raise
        if reply.events is None:
            content = _fill(reply.body or b"", key)
            return web.Response(status=reply.status, body=content, headers={"Content-Type": reply.content_type, **headers})
        response = web.StreamResponse(status=reply.status, headers={"Content-Type": "text/event-stream", **headers})
        await response.prepare(request)
        try:
            for raw in reply.events:
                await response.write(_fill(raw, key) + b"\n\n")
            while reply.forever:
                await response.write(sse(chunk("tick ")) + b"\n\n")
                await asyncio.sleep(0.05)
        except (ConnectionError, RuntimeError):
            self.hung_up.append(model)
        except asyncio.CancelledError:
            self.hung_up.append(model)
            raise
        return response

    def _default(self, stream: bool) -> Reply:
        if self.plain:
            return plain_stream() if stream else plain_completion()
        return echo_stream() if stream else echo_completion()


def _key(request: web.Request) -> str:
    return request.headers.get("Authorization", "").removeprefix("Bearer ")


def _fill(raw: bytes, key: str) -> bytes:
    escaped = json.dumps(key)[1:-1].replace("/", "\\/")
    return raw.replace(KEY_JSON, escaped.encode()).replace(KEY, key.encode())


# --- builders ----------------------------------------------------------------------------------------


def sse(payload: dict[str, Any] | str) -> bytes:
    """One `data:` line: a JSON payload, or a raw string such as "[DONE]"."""
    return b"data: " + (payload if isinstance(payload, str) else json.dumps(payload)).encode()


def chunk(content: str | None = None, finish: str | None = None, role: str | None = None, **extra: Any) -> dict[str, Any]:
    delta = {k: v for k, v in (("role", role), ("content", content)) if v is not None}
    return {"id": "gen-hostile", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}  # fmt: skip


def usage_chunk() -> dict[str, Any]:
    return {"id": "gen-hostile", "object": "chat.completion.chunk", "model": "m", "choices": [], "usage": USAGE}


def completion(content: str, **extra: Any) -> dict[str, Any]:
    return {"id": "gen-hostile", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": USAGE, **extra}  # fmt: skip


def body_of(value: dict[str, Any]) -> bytes:
    return json.dumps(value).encode()


def echo_completion() -> Reply:
    """A 200 completion quoting the key as it is and JSON-escaped, in its text, id and an extra field."""
    body = body_of(completion("your key is @KEY@ or @KEY_JSON@", provider="@KEY_JSON@", id="gen-@KEY@"))
    return Reply(body=body, headers=dict(ECHO_HEADERS))


def echo_stream(*, error_status: int | str = 401) -> Reply:
    """A stream quoting the key in its content, then failing mid-stream with an error that quotes it."""
    error = {"code": error_status, "message": "Provider rejected @KEY@", "metadata": {"raw": "@KEY_JSON@"}}
    events = [
        sse(chunk("", role="assistant")),
        sse(chunk("the key @KEY@")),
        sse(chunk(" escaped @KEY_JSON@")),
        sse({**chunk("", finish="error"), "error": error}),
    ]
    return Reply(events=events, headers=dict(ECHO_HEADERS))


def echo_error(status: int) -> Reply:
    """An HTTP error whose body and headers (Retry-After too) quote the key."""
    error = {"code": status, "message": "Incorrect API key provided: @KEY@",
             "metadata": {"raw": "upstream saw @KEY_JSON@", "provider_name": "@KEY@"}}  # fmt: skip
    return Reply(status=status, body=body_of({"error": error}), headers=dict(ECHO_HEADERS))


def whole_stream(*events: dict[str, Any] | str) -> Reply:
    """A stream of these events, as they are."""
    return Reply(events=[sse(e) for e in events])


def plain_completion(content: str = "Hello") -> Reply:
    return Reply(body=body_of(completion(content)))


def plain_stream(*words: str) -> Reply:
    """A normal stream: a role chunk, a chunk per word, the finish, usage and [DONE]."""
    pieces = [chunk(w) for w in words or ("Hello", " there")]
    return whole_stream(chunk("", role="assistant"), *pieces, chunk(None, "stop"), usage_chunk(), "[DONE]")
