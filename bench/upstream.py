"""A fast fake OpenAI-compatible upstream: `python -m bench.upstream --port P`.

A raw asyncio Protocol (uvloop when installed) with keep-alive and TCP_NODELAY.
`POST .../chat/completions` answers a fixed small completion with usage, in one write.
With `"stream": true` it streams N content chunks, then a usage chunk, then `data: [DONE]`,
each a separate write with PACE ms between them: N and PACE come from the model name
(`stream-20x5ms` anywhere in it, e.g. `bench-stream-20x5ms`) or from --chunks/--pace-ms.
`GET /health` answers `{"status":"ok"}`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import re
import socket

from orjson import loads  # a project dependency

USAGE = {"prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21}
COMPLETION = json.dumps({
    "id": "chatcmpl-bench", "object": "chat.completion", "created": 1700000000, "model": "bench",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello from the bench upstream."},
                 "finish_reason": "stop"}],
    "usage": USAGE,
}, separators=(",", ":")).encode()


def _response(status: bytes, body: bytes, content_type: bytes = b"application/json") -> bytes:
    return b"HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s" % (status, content_type, len(body), body)


OK = _response(b"200 OK", COMPLETION)
HEALTH = _response(b"200 OK", b'{"status":"ok"}')
MODELS = _response(b"200 OK", b'{"object":"list","data":[{"id":"chat","object":"model","owned_by":"bench"}]}')
NOT_FOUND = _response(b"404 Not Found", b'{"error":{"message":"not found","type":"invalid_request_error"}}')
STREAM_HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n")
SHAPE = re.compile(rb"stream-(\d+)x(\d+)ms")


def _chunk(event: dict | str) -> bytes:
    data = event if isinstance(event, str) else json.dumps(event, separators=(",", ":"))
    payload = f"data: {data}\n\n".encode()
    return b"%x\r\n%s\r\n" % (len(payload), payload)


@functools.lru_cache(maxsize=4096)
def content_chunk(i: int, last: bool) -> bytes:
    choice = {"index": 0, "delta": {"content": f"t{i} "}, "finish_reason": "stop" if last else None}
    return _chunk({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1700000000, "model": "bench",
                   "choices": [choice]})


USAGE_CHUNK = _chunk({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1700000000,
                      "model": "bench", "choices": [], "usage": USAGE})
DONE_CHUNK = _chunk("[DONE]") + b"0\r\n\r\n"


class Upstream(asyncio.Protocol):
    defaults = (20, 5)  # chunks, pace in ms: set from the command line

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self.transport = transport
        self.buffer = bytearray()
        self.streaming = False
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.streaming:
            self.process()

    def process(self) -> None:
        buffer = self.buffer
        while not self.streaming:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buffer[:end]).lower()
            start = end + 4
            at = head.find(b"\r\ncontent-length:")
            if at >= 0:
                stop = head.find(b"\r\n", at + 2)
                length = int(head[at + 17 : stop if stop >= 0 else len(head)])
                if len(buffer) < start + length:
                    return
                body = bytes(buffer[start : start + length])
                del buffer[: start + length]
            elif b"\r\ntransfer-encoding: chunked" in head:
                body, used = _dechunk(buffer, start)
                if used < 0:
                    return
                del buffer[:used]
            else:
                body = b""
                del buffer[:start]
            self.respond(head[: head.find(b" ", head.find(b" ") + 1)], body)

    def respond(self, request_line: bytes, body: bytes) -> None:
        method, _, path = request_line.partition(b" ")
        if method == b"post" and path.endswith(b"/chat/completions"):
            if b'"stream"' in body and loads(body).get("stream") is True:
                match = SHAPE.search(body)
                chunks, pace = (int(match[1]), int(match[2])) if match else self.defaults
                self.streaming = True
                asyncio.get_running_loop().create_task(self.stream(chunks, pace / 1000))
            else:
                self.transport.write(OK)
        elif method == b"get" and path == b"/health":
            self.transport.write(HEALTH)
        elif method == b"get" and path.endswith(b"/models"):
            self.transport.write(MODELS)
        else:
            self.transport.write(NOT_FOUND)

    async def stream(self, chunks: int, pace: float) -> None:
        write = self.transport.write
        write(STREAM_HEAD)
        parts = [content_chunk(i, i == chunks - 1) for i in range(chunks)] + [USAGE_CHUNK, DONE_CHUNK]
        for index, part in enumerate(parts):
            if index:
                await asyncio.sleep(pace)
            if self.transport.is_closing():
                return
            write(part)  # one write per chunk: the pace keeps them apart on the wire
        self.streaming = False
        self.process()


def _dechunk(buffer: bytearray, at: int) -> tuple[bytes, int]:
    """A chunked request body starting at `at`: (body, bytes used), or (b"", -1) while incomplete."""
    body = bytearray()
    while True:
        line_end = buffer.find(b"\r\n", at)
        if line_end < 0:
            return b"", -1
        size = int(bytes(buffer[at:line_end]).split(b";")[0], 16)
        if len(buffer) < line_end + 2 + size + 2:
            return b"", -1
        body += buffer[line_end + 2 : line_end + 2 + size]
        at = line_end + 2 + size + 2
        if size == 0:
            return bytes(body), at


async def serve(host: str, port: int) -> None:
    server = await asyncio.get_running_loop().create_server(Upstream, host, port, backlog=4096, reuse_address=True)
    print(f"bench upstream on http://{host}:{server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--chunks", type=int, default=20, help="content chunks per stream when the model names none")
    parser.add_argument("--pace-ms", type=int, default=5, help="ms between chunks when the model names none")
    args = parser.parse_args()
    Upstream.defaults = (args.chunks, args.pace_ms)
    run(serve(args.host, args.port))


def run(coroutine: object) -> None:
    """asyncio.run on uvloop when it is installed."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(coroutine)  # type: ignore[arg-type]
    else:
        uvloop.run(coroutine)  # type: ignore[arg-type]


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
