"""Opening a TCP socket to a host name with several addresses: Happy Eyeballs (RFC 8305).

A host that resolves to IPv6 and IPv4 addresses, on a network where IPv6 is broken, would
otherwise hang each new connection until the connect timeout. Attempts start one address at
a time, ATTEMPT_DELAY apart or as soon as the one before fails, alternating families; the
first to connect wins and the others are closed. uvloop's create_connection does not do this.
Both families are resolved before the first attempt (getaddrinfo), not raced as RFC 8305's
section 3 suggests: a slow AAAA answer still delays each new connection.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

ATTEMPT_DELAY = 0.25  # seconds, as RFC 8305 recommends
AddrInfo = tuple[Any, ...]  # one entry of getaddrinfo: family, type, proto, canonname, sockaddr
Attempt = Callable[[], Awaitable[socket.socket]]


async def dial(host: str, port: int) -> socket.socket:
    """A connected, non-blocking socket to the first of the host's addresses to answer."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    if not infos:
        raise OSError(f"no address for {host}")
    return await race([attempt(loop, info) for info in interleave(infos)])


def interleave(infos: Sequence[AddrInfo]) -> list[AddrInfo]:
    """The resolver's order, with families alternating from the first one's (RFC 8305, 4)."""
    first = [info for info in infos if info[0] == infos[0][0]]
    others = [info for info in infos if info[0] != infos[0][0]]
    mixed = [info for pair in zip(first, others, strict=False) for info in pair]
    shorter = min(len(first), len(others))
    return mixed + first[shorter:] + others[shorter:]


async def race(attempts: Sequence[Attempt], delay: float = ATTEMPT_DELAY) -> socket.socket:
    """The socket of the first attempt to succeed; each starts `delay` after the last, or when it fails."""
    if len(attempts) == 1:
        return await attempts[0]()  # the common case: no tasks to race
    waiting = list(attempts)
    running: set[asyncio.Future[socket.socket]] = set()
    errors: list[OSError] = []
    try:
        while waiting or running:
            if waiting:
                running.add(asyncio.ensure_future(waiting.pop(0)()))
            done, running = await asyncio.wait(
                running, timeout=delay if waiting else None, return_when=asyncio.FIRST_COMPLETED
            )
            winners = [task.result() for task in done if task.exception() is None]
            errors += [task.exception() for task in done if task.exception() is not None]  # type: ignore[misc]
            if winners:
                for extra in winners[1:]:
                    extra.close()
                return winners[0]
    finally:
        _abandon(running)  # not awaited: a cancellation landing there would drop the winner
    raise _one_error(errors)


async def _connect(loop: asyncio.AbstractEventLoop, info: AddrInfo) -> socket.socket:
    family, kind, proto, _, address = info
    sock = socket.socket(family, kind, proto)
    try:
        sock.setblocking(False)
        # A request's head and body leave at once, not after an ACK (Nagle); asyncio would set this
        # only for a socket whose proto says TCP.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await loop.sock_connect(sock, address)
    except OSError as exc:
        sock.close()
        if exc.errno and not isinstance(exc, socket.gaierror):  # the loops' message names the address, not the reason
            raise OSError(exc.errno, os.strerror(exc.errno)) from None
        raise
    except BaseException:
        sock.close()
        raise
    return sock


def attempt(loop: asyncio.AbstractEventLoop, info: AddrInfo) -> Attempt:
    """A connection attempt to one resolved address, started when the race calls it."""
    return lambda: _connect(loop, info)


def _abandon(running: set[asyncio.Future[socket.socket]]) -> None:
    """Cancel the attempts still under way; close the socket of any that connects regardless."""
    for task in running:
        task.cancel()
        task.add_done_callback(_close_if_connected)


def _close_if_connected(task: asyncio.Future[socket.socket]) -> None:
    if not task.cancelled() and task.exception() is None:
        task.result().close()


def _one_error(errors: list[OSError]) -> OSError:
    reasons = list(dict.fromkeys(str(error.strerror or error) for error in errors))
    if len(reasons) == 1:
        return errors[0]
    return OSError(errors[0].errno, "; ".join(reasons))
