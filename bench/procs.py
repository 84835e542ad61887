"""Child processes of the benchmark: each in its own process group, all killed on exit."""

from __future__ import annotations

import contextlib
import ctypes
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class StartError(RuntimeError):
    """A child that exited or never became ready; the message ends with its log's tail."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:
    # If the benchmark itself is killed (SIGKILL, a test timeout), the kernel stops its children too.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Child:
    def __init__(self, name: str, argv: list[str], log: Path, env: dict[str, str] | None, pipes: bool) -> None:
        self.name, self.log = name, log
        with open(log, "wb") as out:
            self.popen = subprocess.Popen(
                argv, cwd=ROOT, env=env, start_new_session=True, preexec_fn=_die_with_parent,
                stdin=subprocess.PIPE if pipes else subprocess.DEVNULL,
                stdout=subprocess.PIPE if pipes else out, stderr=out, text=pipes,
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_ready(self, port: int, path: str = "/health", timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise StartError(f"{self.name} exited with code {self.popen.returncode}:\n{self.tail()}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                connection.request("GET", path)
                if connection.getresponse().status == 200:
                    connection.close()
                    return
                connection.close()
            except OSError:
                pass
            time.sleep(0.05)
        raise StartError(f"{self.name} was not ready on port {port} after {timeout:.0f} s:\n{self.tail()}")

    def stop(self) -> None:
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, signal.SIGTERM)
                self.popen.wait(5)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)
        for stream in (self.popen.stdin, self.popen.stdout):
            if stream is not None:
                stream.close()


class Children:
    """Every process the benchmark started; `stop_all` ends them (and their process groups)."""

    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        self.running: list[Child] = []

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None, pipes: bool = False) -> Child:
        child = Child(name, argv, self.logdir / f"{name}.log", env, pipes)
        self.running.append(child)
        return child

    def python(self, name: str, args: list[str], **kwargs: object) -> Child:
        return self.start(name, [sys.executable, *args], **kwargs)  # type: ignore[arg-type]

    def stop(self, child: Child) -> None:
        child.stop()
        self.running.remove(child)

    def stop_all(self) -> None:
        while self.running:
            self.stop(self.running[-1])


def stop_on_sigterm() -> None:
    """A SIGTERM ends the run as an exception would: the children are stopped on the way out."""

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
