"""A fake OpenRouter on 127.0.0.1 that serves Anthropic's Messages API natively.

`POST /v1/messages` answers an Anthropic message (JSON), or, when the body asks for a stream,
the fixed SSE bytes of `MESSAGE_SSE`, written as they are in a few chunks. `POST
/v1/chat/completions` answers a plain chat completion ("Hello from <model>", streamed when
asked), so a request the proxy translates can be told apart from one it passes through.
`fail_next(status)` makes the next request (either endpoint) fail with `status` and an
Anthropic error body. `stream_ending` changes how the next Messages streams end: "error" sends
the first events, then Anthropic's `event: error` (overloaded_error); "cut" closes the connection
after the first events, before message_stop.

Every request is recorded with its path, query string, headers and raw body bytes.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes.recording import RecordingUpstream

NATIVE_TEXT = "Hello natively"
SIGNATURE = "EqQBCkgIARABGAIiQL1native+signature/=="


def native_message(model: str) -> dict[str, Any]:
    return {
        "id": "msg_native_01",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [
            {"type": "thinking", "thinking": "Greet back.", "signature": SIGNATURE},
            {"type": "text", "text": NATIVE_TEXT},
        ],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 6, "cache_creation_input_tokens": 0,
                  "cache_read_input_tokens": 100},
    }


# An Anthropic stream as Anthropic writes it (compact JSON, `event:` lines, a ping, no [DONE]).
MESSAGE_SSE = (
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_native_02","type":"message",'
    b'"role":"assistant","model":"anthropic/claude-sonnet-4","content":[],"stop_reason":null,"stop_sequence":null,'
    b'"usage":{"input_tokens":12,"output_tokens":1,"cache_creation_input_tokens":0,"cache_read_input_tokens":100}}}\n\n'
    b'event: ping\ndata: {"type":"ping"}\n\n'
    b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
    b'"content_block":{"type":"thinking","thinking":"","signature":""}}\n\n'
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
    b'"delta":{"type":"thinking_delta","thinking":"Greet back."}}\n\n'
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
    b'"delta":{"type":"signature_delta","signature":"' + SIGNATURE.encode() + b'"}}\n\n'
    b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
    b'event: content_block_start\ndata: {"type":"content_block_start","index":1,'
    b'"content_block":{"type":"text","text":""}}\n\n'
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":1,'
    b'"delta":{"type":"text_delta","text":"Hello"}}\n\n'
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":1,'
    b'"delta":{"type":"text_delta","text":" natively"}}\n\n'
    b'event: content_block_stop\ndata: {"type":"content_block_stop","index":1}\n\n'
    b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},'
    b'"usage":{"output_tokens":6}}\n\n'
    b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
)

STREAM_ERROR = b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'


@dataclass
class MessagesUpstream(RecordingUpstream):
    """`stream_ending`: "complete", "error" or "cut"."""

    def paths(self) -> list[str]:
        return [seen.path for seen in self.requests]

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/messages", self._recorded(self._messages))
        app.router.add_post("/v1/chat/completions", self._recorded(self._chat))
        app.router.add_get("/v1/models", self._models)

    def error_body(self, status: int) -> dict[str, Any]:
        return {"type": "error", "error": {"type": "api_error", "message": f"native failure {status}"}}

    # --- handlers ------------------------------------------------------------------------------
    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response({"data": [{"id": "anthropic/claude-sonnet-4"}, {"id": "openai/gpt-4o"}]})

    async def _messages(self, request: web.Request, body: Any) -> web.StreamResponse:
        if not body.get("stream"):
            return web.json_response(native_message(str(body.get("model"))))
        response = await self._event_stream(request)
        if self.stream_ending != "complete":
            await response.write(b"".join(MESSAGE_SSE.split(b"\n\n")[i] + b"\n\n" for i in range(4)))
            if self.stream_ending == "error":
                await response.write(STREAM_ERROR)
            else:
                request.transport.close()  # type: ignore[union-attr]
            return response
        third = len(MESSAGE_SSE) // 3
        for start in range(0, len(MESSAGE_SSE), third):  # cut mid-event: the proxy must not care
            await response.write(MESSAGE_SSE[start : start + third])
            await asyncio.sleep(0.01)
        return response

    async def _chat(self, request: web.Request, body: Any) -> web.StreamResponse:
        model = str(body.get("model"))
        message = {"role": "assistant", "content": f"Hello from {model}"}
        usage = {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}
        if not body.get("stream"):
            choice = {"index": 0, "message": message, "finish_reason": "stop"}
            return web.json_response({"id": "gen-chat", "object": "chat.completion", "model": model,
                                      "choices": [choice], "usage": usage})
        response = await self._event_stream(request)
        chunks: list[dict[str, Any]] = [
            {"delta": {"role": "assistant", "content": message["content"]}, "finish_reason": None},
            {"delta": {}, "finish_reason": "stop"},
        ]
        for part in chunks:
            event = {"id": "gen-chat", "object": "chat.completion.chunk", "model": model, "choices": [{"index": 0, **part}]}
            await response.write(f"data: {json.dumps(event)}\n\n".encode())
        final = {"id": "gen-chat", "object": "chat.completion.chunk", "model": model, "choices": [], "usage": usage}
        await response.write(f"data: {json.dumps(final)}\n\ndata: [DONE]\n\n".encode())
        return response
