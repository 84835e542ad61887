"""The proxy started as a user starts it, `python -m src.core.cli`, in a child process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import openai

ROOT = Path(__file__).resolve().parents[2]
PROXY_KEY = "sy-cli-proxy-key-0002"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serving(args: list[str], env: dict[str, str]) -> Iterator[tuple[str, list[str]]]:
    """Run the CLI until the block ends; yields its URL and, afterwards, its stderr lines."""
    port = env.get("SWITCHYARD_PORT") or str(free_port())
    if "SWITCHYARD_PORT" not in env and "--port" not in args:
        args = [*args, "--port", port]
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHYARD_") and k != "OPENROUTER_API_KEY"}
    process = subprocess.Popen(
        [sys.executable, "-m", "src.core.cli", *args],
        cwd=Path.cwd(),  # each test's own temporary folder: a default ./switchyard.db lands there
        env={**base_env, "PYTHONPATH": str(ROOT), **env},
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    log: list[str] = []
    try:
        deadline = time.monotonic() + 15
        while True:
            assert process.poll() is None, f"proxy exited: {process.stderr.read() if process.stderr else ''}"
            try:
                if httpx.get(f"{url}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "proxy did not start"
            time.sleep(0.05)
        yield url, log
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=10)
        log.extend(stderr.splitlines())


def client(url: str, key: str = PROXY_KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)
