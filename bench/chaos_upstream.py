"""A faulty and hostile fake upstream for the chaos run: `python -m bench.chaos_upstream --port P`.

`POST <prefix>/v1/chat/completions` with `"stream": true` and the model `chaos-<fault>` answers a
stream of --chunks content chunks, --pace-ms apart, then a usage chunk and `data: [DONE]` (the same
chunks as bench/upstream.py), unless the fault says otherwise. A fault applies under the prefix
`/a` (the proxy's first route); under `/b` (its failover route) the answer is healthy, unless the
fault's name ends with `-both`. `GET /health` and `GET .../models` answer as usual.

Faults before the first byte (failover recovers them): `429`, `500`, `502-html`, `401`, `reset`
(RST), `close` (FIN), `echo-key` (the upstream key in the error body, JSON-escaped too, and in
headers), `bomb` / `bomb-error` (a small gzip body that decodes to BOMB_MB), `endless` (an error
body that never ends), `endless-sse` (an SSE line that never ends), `malformed` (a 503 whose JSON
is cut), `huge-head` (a 1 MiB response head). Faults after content (the stream must end with an
error): `mid-error` (an in-band error event, echoing the key), `mid-drop` (FIN), `mid-reset` (RST),
`mid-cut` (a body that ends halfway through an event). `split` sends a healthy stream in pieces cut
at odd bytes; `ok` is healthy.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import struct
import zlib

from bench.upstream import DONE_CHUNK, MODELS, USAGE_CHUNK, _chunk, _dechunk, _response, content_chunk, run

HEALTH = _response(b"200 OK", b'{"status":"ok"}')
NOT_FOUND = _response(b"404 Not Found", b'{"error":{"message":"not found","type":"invalid_request_error"}}')
SSE_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
ENDLESS_LIMIT = 1 << 30  # bytes an endless body gives up after, should nobody stop reading


def error_body(message: str, code: int) -> bytes:
    return json.dumps({"error": {"message": message, "type": "upstream_error", "code": code}}).encode()


def gzip_bomb(megabytes: int) -> bytes:
    squeeze = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: a gzip container
    block = b"\0" * (1 << 20)
    return b"".join(squeeze.compress(block) for _ in range(megabytes)) + squeeze.flush()


def chunked(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


class Chaos:
    bomb = b""
    chunks, pace = 8, 0.15  # content chunks per stream, seconds between them: set from the command line

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                body = await self.body(reader, head.lower())
                if not await self.answer(head, body, writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    @staticmethod
    async def body(reader: asyncio.StreamReader, head: bytes) -> bytes:
        at = head.find(b"\r\ncontent-length:")
        if at >= 0:
            return await reader.readexactly(int(head[at + 17 : head.find(b"\r\n", at + 2)]))
        if b"\r\ntransfer-encoding: chunked" in head:
            buffer = bytearray()
            while (found := _dechunk(buffer, 0))[1] < 0:
                buffer += await reader.read(65536) or b"!"  # "!": a cut body fails to parse, and ends the loop
            return found[0]
        return b""

    async def answer(self, head: bytes, body: bytes, writer: asyncio.StreamWriter) -> bool:
        """Writes the answer; False when the connection is not to be used again."""
        line = head[: head.find(b"\r\n")].decode("latin-1").split(" ")
        method, path = line[0], line[1] if len(line) > 1 else "/"
        if method == "GET":
            writer.write(HEALTH if path == "/health" else MODELS if path.endswith("/models") else NOT_FOUND)
            return True
        if not path.endswith("/chat/completions"):
            writer.write(NOT_FOUND)
            return True
        request = json.loads(body or b"{}")
        fault = str(request.get("model", "")).removeprefix("chaos-")
        if path.startswith("/b/") and not fault.endswith("-both"):
            fault = "ok"
        key = ""
        for field in head.split(b"\r\n"):
            if field.lower().startswith(b"authorization:"):
                key = field.split(b":", 1)[1].strip().decode("latin-1").removeprefix("Bearer ")
        return await self.fault(fault.removesuffix("-both"), key, writer)

    async def fault(self, fault: str, key: str, writer: asyncio.StreamWriter) -> bool:
        write = writer.write
        if fault in ("429", "500", "401"):
            reason = {"429": b"429 Too Many Requests", "500": b"500 Internal Server Error", "401": b"401 Unauthorized"}
            write(_response(reason[fault], error_body(f"chaos {fault}", int(fault))))
        elif fault == "502-html":
            write(_response(b"502 Bad Gateway", b"<html><body><h1>502 Bad Gateway</h1></body></html>", b"text/html"))
        elif fault in ("reset", "close"):
            return self.hang_up(writer, reset=fault == "reset")
        elif fault == "echo-key":
            message = f"invalid key {key} (escaped: {key.replace('/', chr(92) + '/')})"
            body = error_body(message, 401)
            write(b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nX-Request-Id: %s\r\n"
                  b"Retry-After: %s\r\nContent-Length: %d\r\n\r\n%s" % (key.encode(), key.encode(), len(body), body))
        elif fault in ("bomb", "bomb-error"):
            status = b"200 OK" if fault == "bomb" else b"500 Internal Server Error"
            write(b"HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
                  b"Content-Length: %d\r\n\r\n" % (status, len(self.bomb)) + self.bomb)
        elif fault in ("endless", "endless-sse"):
            await self.endless(writer, fault == "endless-sse")
            return False
        elif fault == "malformed":
            write(_response(b"503 Service Unavailable", b'{"error": {"message": "the upstream is overlo'))
        elif fault == "huge-head":
            junk = b"".join(b"X-Junk-%d: %s\r\n" % (i, b"j" * 1000) for i in range(1024))
            write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n" + junk + b"Content-Length: 0\r\n\r\n")
            return False
        else:
            return await self.stream(fault, key, writer)
        return True

    @staticmethod
    def hang_up(writer: asyncio.StreamWriter, reset: bool) -> bool:
        if reset:
            writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
        else:
            writer.close()
        return False

    @staticmethod
    async def endless(writer: asyncio.StreamWriter, sse: bool) -> None:
        if sse:
            writer.write(SSE_HEAD + chunked(b'data: {"choices": [{"delta": {"content": "'))
        else:
            writer.write(b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n" + chunked(b'{"error": {"message": "'))
        piece, sent = chunked(b"a" * 65536), 0
        while sent < ENDLESS_LIMIT and not writer.is_closing():
            writer.write(piece)
            await writer.drain()  # a reader that stops reading stops this too
            sent += len(piece)

    async def stream(self, fault: str, key: str, writer: asyncio.StreamWriter) -> bool:
        parts = [content_chunk(i, i == self.chunks - 1) for i in range(self.chunks)] + [USAGE_CHUNK, DONE_CHUNK]
        if fault.startswith("mid-"):
            parts = parts[:3]
        writer.write(SSE_HEAD)
        for index, part in enumerate(parts):
            if index:
                await asyncio.sleep(self.pace)
            if writer.is_closing():
                return False
            if fault == "split":
                for cut in range(0, len(part), 7):
                    writer.write(part[cut : cut + 7])
                    await writer.drain()
            else:
                writer.write(part)
        await asyncio.sleep(self.pace)
        if fault == "mid-error":
            message = f"the model failed mid-generation (key {key})"
            writer.write(_chunk({"error": {"message": message, "code": 502}}) + b"0\r\n\r\n")
        elif fault in ("mid-drop", "mid-reset"):
            return self.hang_up(writer, reset=fault == "mid-reset")
        elif fault == "mid-cut":
            writer.write(chunked(b'data: {"id":"chatcmpl-bench","object":"chat.compl') + b"0\r\n\r\n")
        return True


async def serve(port: int, bomb_mb: int) -> None:
    Chaos.bomb = gzip_bomb(bomb_mb)
    server = await asyncio.start_server(Chaos().serve, "127.0.0.1", port, backlog=4096, reuse_address=True,
                                        limit=1 << 20)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--bomb-mb", type=int, default=64, help="what the gzip bomb decodes to (MiB)")
    parser.add_argument("--chunks", type=int, default=8, help="content chunks per stream")
    parser.add_argument("--pace-ms", type=int, default=150, help="ms between chunks")
    args = parser.parse_args()
    Chaos.chunks, Chaos.pace = args.chunks, args.pace_ms / 1000
    with contextlib.suppress(KeyboardInterrupt):
        run(serve(args.port, args.bomb_mb))
