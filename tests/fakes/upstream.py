"""A fake OpenRouter on 127.0.0.1, scripted by the requested model's name.

Model names (the part after any vendor prefix decides):
- anything else: a normal completion that echoes the model; streams when asked;
- `tools`: two parallel tool calls, arguments split across chunks;
- `error-<status>`: that HTTP status with an OpenRouter error body (`Retry-After: 1` on 429/503);
- `echo-key-401`: a 401 whose message quotes the upstream key it received;
- `midstream-error`: a stream that fails after its first content (OpenRouter's error chunk);
- `truncated`: a stream whose connection ends before `[DONE]`;
- `stall`: sends its headers (and, streaming, one chunk), then nothing for a long time;
- `slow`: streams a chunk every 50 ms for 5 s, and records in `aborted` when the reader goes away;
- `ignores-stream`: answers every request, `stream: true` too, with one plain JSON completion
  (application/json, `X-Generation-Id: gen-json`);
- `ignores-stream-tools`: the same, with the two tool calls of `tools` in the JSON completion;
- `ignores-stream-not-completion`: answers every request with 200 JSON that is no completion (`{"ok": true}`);
- `midstream-echo-key`: streams one content chunk, then an OpenRouter error event whose message
  quotes the upstream key it received (its Authorization header);
- `half-event`: streams one content chunk, then the first half of a JSON event (no blank line),
  then ends the chunked response normally;
- `cr-stream`: a normal stream whose lines end in bare CR (`\r\r` between events), with
  `CR_PAUSE` seconds between events; `finished_sending[model]` is False until just before it
  writes its last event (`[DONE]`), so a test can tell whether it saw content before that;
- `slow-answer` (non-streaming): waits up to 3 s in 50 ms steps before answering, and records in
  `aborted` (and returns) as soon as the proxy's connection to it closes;
- `odd-header`: a normal completion or stream with `X-Request-Id: req-€` (sent as UTF-8 bytes);
- `ignores-stream-bad-message`: answers every request with 200 JSON `{"choices": [{"message": "x"}]}`.

Every request is recorded with its parsed body (stdlib `json`, so wide integers, NaN and lone
surrogates keep their exact values), its raw body bytes and its raw header bytes.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.threaded import ThreadedServer

MODELS = [
    {
        "id": "openai/gpt-4o",
        "name": "OpenAI: GPT-4o",
        "created": 1715367049,
        "context_length": 128000,
        "pricing": {"prompt": "0.0000025", "completion": "0.00001"},
        "supported_parameters": ["tools", "temperature"],
    },
    {
        "id": "qwen/qwen3-coder:free",
        "name": "Qwen3 Coder (free)",
        "created": 1753230546,
        "context_length": 262144,
        "pricing": {"prompt": "0", "completion": "0"},
    },
]
TOOL_CALL_FRAGMENTS = [
    [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": ""}}],
    [{"index": 0, "function": {"arguments": '{"city": "Pa'}}],
    [{"index": 1, "id": "call_b", "type": "function", "function": {"name": "get_time", "arguments": '{"tz":'}}],
    [{"index": 0, "function": {"arguments": 'ris, \\u00e9"}'}}],
    [{"index": 1, "function": {"arguments": ' "Europe/Paris"}'}}],
]
USAGE = {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17, "cost": 0.00012}
CR_PAUSE = 0.2
HALF_EVENT = b'data: {"id": "gen-fake", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"cont'


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    raw: bytes = b""
    raw_headers: tuple[tuple[bytes, bytes], ...] = ()

    def raw_header(self, name: str) -> bytes | None:
        """The bytes of header `name` (any case) exactly as they arrived."""
        wanted = name.lower().encode()
        return next((value for key, value in self.raw_headers if key.lower() == wanted), None)


@dataclass
class FakeUpstream(ThreadedServer):
    host: str = "127.0.0.1"
    port: int = 0
    requests: list[Recorded] = field(default_factory=list)
    aborted: list[str] = field(default_factory=list)
    finished_sending: dict[str, bool] = field(default_factory=dict)
    stall_seconds: float = 5.0

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/api/v1"

    def last(self) -> Recorded:
        return self.requests[-1]

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/api/v1/chat/completions", self._chat)
        app.router.add_get("/api/v1/models", self._models)

    # --- handlers --------------------------------------------------------------------------
    async def _models(self, request: web.Request) -> web.Response:
        self.requests.append(Recorded("GET", request.path, dict(request.headers), None))
        return web.json_response({"data": MODELS})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        body = json.loads(raw)
        self.requests.append(Recorded("POST", request.path, dict(request.headers), body, raw, tuple(request.raw_headers)))
        model = str(body.get("model", ""))
        scenario = model.rsplit("/", 1)[-1]
        if scenario == "ignores-stream-not-completion":
            return web.json_response({"ok": True})
        if scenario == "ignores-stream-bad-message":
            return web.json_response({"choices": [{"message": "x"}]})
        if scenario.startswith("ignores-stream"):
            completion = _completion(model, scenario.removeprefix("ignores-stream-"))
            return web.json_response(completion, headers={"X-Generation-Id": "gen-json"})
        if scenario.startswith("error-"):
            return _error(int(scenario.removeprefix("error-")))
        if scenario == "echo-key-401":
            key = request.headers.get("Authorization", "").removeprefix("Bearer ")
            return _error(401, f"Incorrect API key provided: {key}")
        if scenario == "stall" and not body.get("stream"):
            await asyncio.sleep(self.stall_seconds)
        if scenario == "slow-answer" and not body.get("stream"):
            for _ in range(60):
                await asyncio.sleep(0.05)
                if request.transport is None or request.transport.is_closing():
                    self.aborted.append(model)
                    return web.Response(status=499)
        if body.get("stream"):
            return await self._stream(request, model, scenario)
        return web.json_response(_completion(model, scenario), headers=_odd_header(scenario))

    async def _stream(self, request: web.Request, model: str, scenario: str) -> web.StreamResponse:
        headers = {"Content-Type": "text/event-stream", "X-Generation-Id": "gen-fake", **_odd_header(scenario)}
        response = web.StreamResponse(headers=headers)
        await response.prepare(request)

        async def event(payload: dict[str, Any] | str) -> None:
            data = payload if isinstance(payload, str) else json.dumps(payload)
            await response.write(f"data: {data}\n\n".encode())

        if scenario == "slow":
            return await self._slow_stream(response, model)
        if scenario == "cr-stream":
            return await self._cr_stream(response, model)
        await response.write(b": OPENROUTER PROCESSING\n\n")
        await event(_chunk(model, {"role": "assistant", "content": ""}))
        if scenario == "tools":
            for fragment in TOOL_CALL_FRAGMENTS:
                await event(_chunk(model, {"tool_calls": fragment}))
            await event(_chunk(model, {}, finish="tool_calls"))
        else:
            for word in ("Hello", " from", f" {model}"):
                await event(_chunk(model, {"content": word}))
                if scenario == "midstream-echo-key":
                    key = request.headers.get("Authorization", "").removeprefix("Bearer ")
                    error = {"code": 401, "message": f"Provider rejected the key {key}", "metadata": {"raw": key}}
                    await event({**_chunk(model, {"content": ""}, finish="error"), "error": error})
                    return response
                if scenario == "half-event":
                    await response.write(HALF_EVENT)
                    await response.write_eof()
                    return response
                if scenario == "midstream-error":
                    error = {"code": 502, "message": "Provider disconnected", "metadata": {"error_type": "provider_unavailable"}}
                    await event({**_chunk(model, {"content": ""}, finish="error"), "error": error})
                    return response
                if scenario == "truncated":
                    request.transport.close()  # type: ignore[union-attr]
                    return response
                if scenario == "stall":
                    await asyncio.sleep(self.stall_seconds)
            await event(_chunk(model, {}, finish="stop"))
        await event({"id": "gen-fake", "object": "chat.completion.chunk", "model": model, "choices": [], "usage": USAGE})
        await event("[DONE]")
        return response


    async def _cr_stream(self, response: web.StreamResponse, model: str) -> web.StreamResponse:
        self.finished_sending[model] = False
        usage = {"id": "gen-fake", "object": "chat.completion.chunk", "model": model, "choices": [], "usage": USAGE}
        events = [
            _chunk(model, {"role": "assistant", "content": ""}),
            *(_chunk(model, {"content": word}) for word in ("Hello", " from", f" {model}")),
            _chunk(model, {}, finish="stop"),
            usage,
        ]
        await response.write(b": OPENROUTER PROCESSING\r\r")
        for payload in events:
            await response.write(f"data: {json.dumps(payload)}\r\r".encode())
            await asyncio.sleep(CR_PAUSE)
        self.finished_sending[model] = True
        await response.write(b"data: [DONE]\r\r")
        return response

    async def _slow_stream(self, response: web.StreamResponse, model: str) -> web.StreamResponse:
        try:
            for _ in range(100):
                await response.write(f"data: {json.dumps(_chunk(model, {'content': 'tick '}))}\n\n".encode())
                await asyncio.sleep(0.05)
        except (ConnectionError, RuntimeError):
            self.aborted.append(model)
        return response


def _odd_header(scenario: str) -> dict[str, str]:
    # Not latin-1: a proxy that re-sent it as it came could not encode it.
    return {"X-Request-Id": "req-\u20ac"} if scenario == "odd-header" else {}


def _chunk(model: str, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "gen-fake",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _completion(model: str, scenario: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": f"Hello from {model}"}
    finish = "stop"
    if scenario == "tools":
        message = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
                {"id": "call_b", "type": "function", "function": {"name": "get_time", "arguments": '{"tz": "Europe/Paris"}'}},
            ],
        }
        finish = "tool_calls"
    return {
        "id": "gen-fake",
        "object": "chat.completion",
        "created": 1,
        "model": model,
        "provider": "Fake",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": USAGE,
    }


def _error(status: int, message: str | None = None) -> web.Response:
    headers = {"Retry-After": "1"} if status in (429, 503) else {}
    body = {
        "error": {
            "code": status,
            "message": message or f"fake upstream error {status}",
            "metadata": {"provider_name": "FakeProvider", "raw": f"raw provider error {status}"},
        }
    }
    return web.json_response(body, status=status, headers=headers)
