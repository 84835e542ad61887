"""A throwaway Redis server for the tests: `redis-server` on a free loopback port, nothing saved
(`--save "" --appendonly no`), its working folder a temporary one.

The session fixture `redis_server` (registered in tests/conftest.py) starts one and yields it; test
modules import `redis_fixture` (`from tests.fakes.redis import redis_fixture  # noqa: F401`) for a
fixture `redis`: the same server, running. Either gives `.url` to connect, `.prefix()` a key prefix
of a test's own (so tests never see each other's keys), and `.stop()` / `.start()` for the tests of
a Redis that goes away and comes back on the same port (with nothing kept: a restarted server is
empty). `with server.down(): ...` stops it for the block and always starts it again;
`with server.paused(): ...` freezes it (SIGSTOP), as a Redis that hangs.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

BINARY = "redis-server"


class RedisServer:
    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.folder = Path(tempfile.mkdtemp(prefix="switchyard-redis-"))
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @staticmethod
    def prefix() -> str:
        return f"sy-test-{uuid.uuid4().hex[:12]}"

    def start(self) -> RedisServer:
        if self.running:
            return self
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", str(self.folder), "--logfile", str(self.folder / "log"), "--protected-mode", "no"]  # fmt: skip
        self._process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not self.ping():
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start: {self.log()}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(10)
        self._process = None

    @contextmanager
    def down(self) -> Iterator[None]:
        self.stop()
        try:
            yield
        finally:
            self.start()

    @contextmanager
    def paused(self) -> Iterator[None]:
        """The server stopped (SIGSTOP) for the block: connections open, nothing answered."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)
        try:
            yield
        finally:
            self._process.send_signal(signal.SIGCONT)

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def log(self) -> str:
        path = self.folder / "log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A Redis server for this test session; a test that stopped it gets it back running."""
    binary = shutil.which(BINARY) or next((p for p in ("/usr/bin/redis-server",) if Path(p).exists()), None)
    if binary is None:
        pytest.skip("redis-server is not installed (not on PATH nor /usr/bin/redis-server)")
    server = RedisServer(binary)
    try:
        yield server.start()
    finally:
        server.close()


@pytest.fixture(name="redis")
def redis_fixture(redis_server: RedisServer) -> RedisServer:
    """The session's server, running (started again if an earlier test left it stopped)."""
    return redis_server.start()
