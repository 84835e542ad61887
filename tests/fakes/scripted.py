"""A fake OpenAI-compatible upstream on 127.0.0.1 whose answers a test scripts per model.

`upstream.script("m", Step(status=429, retry_after="1"), Step())` makes the first request for
model `m` fail with a 429 and the second succeed; once a model's steps are used up it answers
normally: "Hello from <model>", streamed when asked, with usage.

Every request is recorded: model, the key it carried, its headers and its parsed body.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.threaded import ThreadedServer

USAGE = {"prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14, "cost": 0.0001}
Event = dict[str, Any] | str  # a JSON payload for `data:`, or a raw line such as ": keep-alive"


@dataclass
class Step:
    """What the upstream does for one request."""

    status: int = 200
    retry_after: str | None = None
    error: dict[str, Any] | None = None  # the `error` object of a failure (default: OpenRouter's shape)
    events: list[Event] | None = None  # a stream's events (default: a normal answer)
    completion: dict[str, Any] | None = None  # a non-streaming answer (default: a normal answer)
    stall: float = 0.0  # seconds of silence before answering (streams: after the headers)
    stall_after: int | None = None  # streams: go silent after this many events
    pause_after: int | None = None  # streams: wait 0.3 s after this many events (time to hang up)
    drop: bool = False  # close the connection without answering


@dataclass
class Seen:
    model: str
    key: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class ScriptedUpstream(ThreadedServer):
    requests: list[Seen] = field(default_factory=list)
    aborted: list[str] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        self._steps: dict[str, deque[Step]] = defaultdict(deque)
        self._rejected_keys: dict[str, int] = {}

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, model: str, *steps: Step) -> None:
        self._steps[model].extend(steps)

    def reject_key(self, key: str, status: int = 401) -> None:
        """Every request carrying `key` gets `status`."""
        self._rejected_keys[key] = status

    def reset(self) -> None:
        self.requests.clear()
        self.aborted.clear()
        self._steps.clear()
        self._rejected_keys.clear()

    def models(self) -> list[str]:
        return [seen.model for seen in self.requests]

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._list)

    # --- handlers ------------------------------------------------------------------------------
    async def _list(self, request: web.Request) -> web.Response:
        return web.json_response({"data": [{"id": "fake/model"}]})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = json.loads(await request.read())
        model = str(body.get("model"))
        key = request.headers.get("Authorization", "").removeprefix("Bearer ")
        self.requests.append(Seen(model, key, dict(request.headers), body))
        steps = self._steps.get(model)
        step = steps.popleft() if steps else Step()
        if key in self._rejected_keys:
            step = Step(status=self._rejected_keys[key])
        if step.drop:
            request.transport.close()  # type: ignore[union-attr]
            return web.Response()
        if step.status >= 400:
            return _failure(step)
        if body.get("stream"):
            return await self._stream(request, model, step)
        await asyncio.sleep(step.stall)
        return web.json_response(step.completion or completion(model))

    async def _stream(self, request: web.Request, model: str, step: Step) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        events = step.events if step.events is not None else answer_events(model)
        try:
            await asyncio.sleep(step.stall)
            for number, event in enumerate(events):
                if step.stall_after is not None and number == step.stall_after:
                    await asyncio.sleep(30)
                if step.pause_after is not None and number == step.pause_after:
                    await asyncio.sleep(0.3)
                line = event if isinstance(event, str) else f"data: {json.dumps(event)}"
                await response.write(f"{line}\n\n".encode())
                await asyncio.sleep(0)
        except (ConnectionError, RuntimeError):
            self.aborted.append(model)  # the proxy hung up mid-stream
        except asyncio.CancelledError:
            self.aborted.append(model)
            raise
        return response


def _failure(step: Step) -> web.Response:
    error = step.error or {"code": step.status, "message": f"scripted failure {step.status}"}
    headers = {"Retry-After": step.retry_after} if step.retry_after else {}
    return web.json_response({"error": error}, status=step.status, headers=headers)


def chunk(model: str, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "gen-scripted",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def usage_chunk(model: str, usage: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"id": "gen-scripted", "object": "chat.completion.chunk", "model": model, "choices": [], "usage": usage or USAGE}


def answer_events(model: str, text: str | None = None) -> list[Event]:
    words = (text or f"Hello from {model}").split(" ")
    pieces = [words[0], *(f" {w}" for w in words[1:])]
    return [
        ": OPENROUTER PROCESSING",
        chunk(model, {"role": "assistant", "content": ""}),
        *(chunk(model, {"content": piece}) for piece in pieces),
        chunk(model, {}, "stop"),
        usage_chunk(model),
        "data: [DONE]",
    ]


def reasoning_events(model: str, reasoning: str, answer: str, style: str = "reasoning") -> list[Event]:
    """A reasoning model's stream: reasoning (in `style`: reasoning, reasoning_content or think), then an answer."""
    parts = [reasoning[: len(reasoning) // 2], reasoning[len(reasoning) // 2 :]]
    if style == "think":
        thinking = [chunk(model, {"content": "<think>"}), *(chunk(model, {"content": p}) for p in parts),
                    chunk(model, {"content": "</think>"})]
    else:
        thinking = [chunk(model, {"role": "assistant", "content": "", style: p}) for p in parts]
    return [*thinking, *(chunk(model, {"content": w}) for w in answer.split(" ")), chunk(model, {}, "stop"),
            usage_chunk(model), "data: [DONE]"]


def error_event(model: str, code: int | str, message: str = "provider failed") -> dict[str, Any]:
    """OpenRouter's in-stream error: a chunk with a top-level `error` and finish_reason `error`."""
    return {**chunk(model, {"content": ""}, "error"), "error": {"code": code, "message": message}}


def completion(model: str, message: dict[str, Any] | None = None, usage: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "id": "gen-scripted",
        "object": "chat.completion",
        "created": 1,
        "model": model,
        "choices": [{"index": 0, "message": message or {"role": "assistant", "content": f"Hello from {model}"},
                     "finish_reason": "stop"}],
        "usage": usage or USAGE,
    }
