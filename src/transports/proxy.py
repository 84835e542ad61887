"""Reaching an upstream through an http:// forward proxy, as curl, httpx and aiohttp do.

An https upstream is reached through a CONNECT tunnel: the proxy relays bytes, and TLS runs
end to end with the upstream. An http upstream is asked for in absolute form
(`POST http://host/path`), on a connection to the proxy. Credentials in the proxy URL go
in Proxy-Authorization, and nowhere else: a proxy's repr and every message name only its
host and port.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import socket
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

MAX_CONNECT_ANSWER = 64 * 1024  # bytes of a proxy's answer to CONNECT; real ones send a few dozen


class ProxyRefused(Exception):
    """The proxy would not open a tunnel (a status other than 2xx, a close, a garbled answer)."""


@dataclass(frozen=True, slots=True)
class Proxy:
    host: str
    port: int
    authorization: str | None = field(default=None, repr=False)  # the Proxy-Authorization value

    @property
    def where(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@functools.lru_cache(maxsize=64)
def proxy_at(url: str) -> Proxy:
    """The proxy an http:// URL names (the configuration has checked it)."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError("an outbound proxy must be an http:// URL with a host")
    authorization = None
    if parts.username is not None or parts.password is not None:
        pair = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
        authorization = "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")
    return Proxy(parts.hostname, parts.port or 80, authorization)


def authorization_line(proxy: Proxy) -> str | None:
    return f"Proxy-Authorization: {proxy.authorization}" if proxy.authorization else None


async def open_tunnel(sock: socket.socket, proxy: Proxy, host: str, port: int) -> None:
    """Ask the proxy on `sock` for a tunnel to host:port; return once it is open."""
    loop = asyncio.get_running_loop()
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}", authorization_line(proxy)]
    await loop.sock_sendall(sock, ("\r\n".join(line for line in lines if line) + "\r\n\r\n").encode("ascii"))
    answer = b""
    while b"\r\n\r\n" not in answer:
        data = await loop.sock_recv(sock, 4096)
        if not data:
            raise ProxyRefused("closed the connection instead of opening the tunnel")
        answer += data
        if len(answer) > MAX_CONNECT_ANSWER:
            raise ProxyRefused(f"answered CONNECT with more than {MAX_CONNECT_ANSWER // 1024} KiB of head")
    head, _, early = answer.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    version, _, rest = status_line.partition(" ")
    code = rest[:3]
    if not version.startswith("HTTP/1.") or not code.isdigit():
        raise ProxyRefused("did not answer CONNECT in HTTP/1.1")
    if not code.startswith("2"):
        raise ProxyRefused(f"refused the tunnel: {rest.strip()[:100]}")
    if early:
        raise ProxyRefused("sent bytes of its own into the tunnel")  # they would corrupt the TLS handshake
