"""A fake upstream on 127.0.0.1 that serves OpenAI's Responses API natively.

`POST /v1/responses` answers `native_response(model)` (JSON), or, when the body asks for a stream,
the fixed SSE bytes of `RESPONSE_SSE`, written as they are in a few chunks. `stream_ending`
changes how the next streams end: "failed" sends the first events, then a `response.failed`
(rate_limit_exceeded); "cut" closes the connection after the first events, before
`response.completed`. `POST /v1/chat/completions` answers a plain chat completion ("Hello from
<model>"), so a request the proxy translates can be told apart from one it passes through.
`fail_next(status)` makes the next request (either endpoint) fail with `status`. `GET /v1/models`
lists one model.

Every request is recorded with its path, headers and raw body bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes.recording import RecordingUpstream

NATIVE_TEXT = "Hello natively"
NATIVE_USAGE = {"input_tokens": 21, "input_tokens_details": {"cached_tokens": 7}, "output_tokens": 9,
                "output_tokens_details": {"reasoning_tokens": 3}, "total_tokens": 30}  # fmt: skip


def native_response(model: str, response_id: str = "resp_native_01") -> dict[str, Any]:
    message = {"type": "message", "id": "msg_native_01", "status": "completed", "role": "assistant",
               "content": [{"type": "output_text", "text": NATIVE_TEXT, "annotations": [], "logprobs": []}]}  # fmt: skip
    return {"id": response_id, "object": "response", "created_at": 1700000000, "status": "completed", "model": model,
            "output": [message], "parallel_tool_calls": True, "tool_choice": "auto", "tools": [], "error": None,
            "incomplete_details": None, "usage": NATIVE_USAGE}  # fmt: skip


def _event(kind: str, number: int, **fields: Any) -> bytes:
    data = json.dumps({"type": kind, "sequence_number": number, **fields}, separators=(",", ":"))
    return f"event: {kind}\ndata: {data}\n\n".encode()


_RESPONSE = native_response("openai/gpt-5", "resp_native_02")
_STARTED = {**_RESPONSE, "status": "in_progress", "output": [], "usage": None}
_ITEM = {"item_id": "msg_native_01", "output_index": 0}
_PART = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
# The first events of a native stream, up to its first text; then its end.
STREAM_START = b"".join([
    _event("response.created", 0, response=_STARTED),
    _event("response.in_progress", 1, response=_STARTED),
    _event("response.output_item.added", 2, output_index=0,
           item={**_RESPONSE["output"][0], "status": "in_progress", "content": []}),
    _event("response.content_part.added", 3, **_ITEM, content_index=0, part=_PART),
    _event("response.output_text.delta", 4, **_ITEM, content_index=0, delta="Hello", logprobs=[]),
])  # fmt: skip
STREAM_END = b"".join([
    _event("response.output_text.delta", 5, **_ITEM, content_index=0, delta=" natively", logprobs=[]),
    _event("response.output_text.done", 6, **_ITEM, content_index=0, text=NATIVE_TEXT, logprobs=[]),
    _event("response.content_part.done", 7, **_ITEM, content_index=0, part={**_PART, "text": NATIVE_TEXT}),
    _event("response.output_item.done", 8, output_index=0, item=_RESPONSE["output"][0]),
    _event("response.completed", 9, response=_RESPONSE),
])  # fmt: skip
RESPONSE_SSE = STREAM_START + STREAM_END
STREAM_FAILED = _event("response.failed", 5, response={
    **_STARTED, "status": "failed", "error": {"code": "rate_limit_exceeded", "message": "Slow down. Try again in 2s."}})


@dataclass
class ResponsesUpstream(RecordingUpstream):
    """`stream_ending`: "complete", "failed" or "cut"."""

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/responses", self._recorded(self._responses))
        app.router.add_post("/v1/chat/completions", self._recorded(self._chat))
        app.router.add_get("/v1/models", self._models)

    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response({"data": [{"id": "openai/gpt-5"}]})

    def error_body(self, status: int) -> dict[str, Any]:
        error = {"message": f"fake failure {status}", "type": "rate_limit_error" if status == 429 else "server_error",
                 "param": None, "code": None}  # fmt: skip
        return {"error": error}

    async def _responses(self, request: web.Request, body: Any) -> web.StreamResponse:
        if not body.get("stream"):
            return web.json_response(native_response(str(body.get("model"))))
        response = await self._event_stream(request)
        await response.write(STREAM_START[: len(STREAM_START) // 2])
        await response.write(STREAM_START[len(STREAM_START) // 2 :])
        if self.stream_ending == "cut":
            request.transport.close()  # type: ignore[union-attr]
            return response
        await response.write(STREAM_FAILED if self.stream_ending == "failed" else STREAM_END)
        return response

    async def _chat(self, request: web.Request, body: Any) -> web.StreamResponse:
        model = str(body.get("model"))
        message = {"role": "assistant", "content": f"Hello from {model}"}
        return web.json_response({"id": "gen-1", "object": "chat.completion", "created": 1, "model": model,
                                  "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                                  "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}})  # fmt: skip
