"""A throw-away Redis for the shared-limits row: `redis-server` on a free port of 127.0.0.1, in a
temporary folder, with no persistence (`--save "" --appendonly no`), stopped with the other children."""

from __future__ import annotations

import shutil
import socket
import time
from pathlib import Path

from bench.procs import Child, Children, StartError, free_port


def redis_missing() -> str | None:
    if shutil.which("redis-server") is None:
        return "redis-server not installed (e.g. apt-get install redis-server): no Redis row"
    return None


def ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def start_redis(children: Children, workdir: Path, timeout: float = 15.0) -> tuple[Child, int]:
    """The server and its port, once it answers PING."""
    server = shutil.which("redis-server")
    if server is None:
        raise StartError("redis-server not installed")
    folder = workdir / "redis"
    folder.mkdir(exist_ok=True)
    port = free_port()
    child = children.start("redis", [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                     "--appendonly", "no", "--dir", str(folder), "--daemonize", "no"])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.popen.poll() is not None:
            raise StartError(f"redis-server exited with code {child.popen.returncode}:\n{child.tail()}")
        if ping(port):
            return child, port
        time.sleep(0.05)
    raise StartError(f"redis-server was not ready on port {port} after {timeout:.0f} s:\n{child.tail()}")
