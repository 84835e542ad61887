"""A real forward proxy on 127.0.0.1 (any free port), as curl, httpx and Switchyard speak to one.

- `CONNECT host:port`: connects onward and relays bytes both ways (the client's TLS runs end to end);
- `METHOD http://host:port/path HTTP/1.1` (absolute form): forwarded to that origin in origin form,
  without Proxy-Authorization; later requests on the same connection are forwarded the same way,
  while the origin's bytes are relayed back as they come (requests carry Content-Length bodies only);
- with `credentials`, a request without the matching Proxy-Authorization gets a 407 and a
  Proxy-Authenticate header, and goes nowhere (with `echo_denied`, a body quoting what it refused).

It records every connection it accepts, every request line (CONNECT ones included) and every
Proxy-Authorization value (None when absent), in order. It only goes on to 127.0.0.1 and localhost.
Use it in the test's loop (`async with ForwardProxy() as proxy`) or from a thread of its own
(`ForwardProxy().start()` ... `stop()`) beside a synchronous test.
"""

from __future__ import annotations

import asyncio
import base64
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Self
from urllib.parse import quote, urlsplit

from tests.fakes.threaded import InThread

MAX_HEAD = 64 * 1024
LOOPBACK = ("127.0.0.1", "localhost")
DENIED = b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"fake\"\r\n"


@dataclass
class ForwardProxy(InThread):
    credentials: tuple[str, str] | None = None  # (user, password) a request must carry in Proxy-Authorization
    echo_denied: bool = False  # a 407's body quotes the Proxy-Authorization it refused, decoded too (a hostile proxy)
    host: str = "127.0.0.1"
    port: int = 0
    connections: list[tuple[str, int]] = field(default_factory=list)  # the peers accepted, in order
    lines: list[str] = field(default_factory=list)  # request lines, CONNECT ones included
    authorizations: list[str | None] = field(default_factory=list)  # Proxy-Authorization per request line
    _writers: set[asyncio.StreamWriter] = field(default_factory=set, repr=False)

    def url(self, user: str | None = None, password: str | None = None) -> str:
        """http://[user:password@]127.0.0.1:port, user and password percent-encoded."""
        auth = f"{quote(user or '', safe='')}:{quote(password or '', safe='')}@" if user or password else ""
        return f"http://{auth}{self.host}:{self.port}"

    @property
    def expected(self) -> str | None:
        if self.credentials is None:
            return None
        return "Basic " + base64.b64encode(":".join(self.credentials).encode()).decode("ascii")

    def _denied(self, authorization: str | None) -> bytes:
        text = ""
        if self.echo_denied and authorization:
            decoded = base64.b64decode(authorization.removeprefix("Basic ")).decode("utf-8", "replace")
            text = f'{{"error": {{"message": "refused {authorization} ({decoded})"}}}}'
        return DENIED + f"Content-Length: {len(text.encode())}\r\n\r\n{text}".encode()

    # --- in the test's loop, or from a thread of its own (InThread: start, stop) ----------

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._accept, self.host, self.port, limit=MAX_HEAD)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        with suppress(TimeoutError):
            await asyncio.wait_for(self._server.wait_closed(), 5)

    # --- one client connection ------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections.append(writer.get_extra_info("peername")[:2])
        self._writers.add(writer)
        upstream: tuple[str, asyncio.StreamWriter, asyncio.Task[None]] | None = None
        try:
            while head := await _read_head(reader):
                line, _, rest = head.partition(b"\r\n")
                method, target, _ = line.decode("latin-1").split(" ", 2)
                headers = [h for h in rest.split(b"\r\n") if h]
                authorization = _header(headers, b"proxy-authorization")
                self.lines.append(line.decode("latin-1"))
                self.authorizations.append(authorization)
                body = await reader.readexactly(int(_header(headers, b"content-length") or 0))
                if self.credentials is not None and authorization != self.expected:
                    writer.write(self._denied(authorization))
                    continue
                if method == "CONNECT":
                    await self._tunnel(target, reader, writer)
                    return
                parts = urlsplit(target)
                if parts.scheme != "http" or parts.hostname not in LOOPBACK:
                    writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    return
                origin = f"{parts.hostname}:{parts.port or 80}"
                if upstream is None or upstream[0] != origin:
                    if upstream is not None:
                        upstream[1].close()
                    up_reader, up_writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
                    self._writers.add(up_writer)
                    upstream = (origin, up_writer, asyncio.ensure_future(_pipe(up_reader, writer)))
                path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
                kept = [h for h in headers if not h.lower().startswith(b"proxy-")]
                upstream[1].write(b"\r\n".join([f"{method} {path} HTTP/1.1".encode(), *kept]) + b"\r\n\r\n" + body)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, OSError):
            pass
        finally:
            if upstream is not None:
                upstream[1].close()
                upstream[2].cancel()
            writer.close()
            self._writers.discard(writer)

    async def _tunnel(self, target: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, _, port = target.rpartition(":")
        if host.strip("[]") not in LOOPBACK:
            writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(host.strip("[]"), int(port))
        except OSError:
            writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        self._writers.add(up_writer)
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        pipes = {asyncio.ensure_future(_pipe(reader, up_writer)), asyncio.ensure_future(_pipe(up_reader, writer))}
        try:
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)  # either side's close ends the tunnel
        finally:
            for pipe in pipes:
                pipe.cancel()
            up_writer.close()
            self._writers.discard(up_writer)


async def _read_head(reader: asyncio.StreamReader) -> bytes | None:
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None


def _header(headers: list[bytes], name: bytes) -> str | None:
    for header in headers:
        key, _, value = header.partition(b":")
        if key.strip().lower() == name:
            return value.strip().decode("latin-1")
    return None


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until `reader` ends, then close `writer`."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()
