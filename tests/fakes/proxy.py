"""The real Switchyard app, served by uvicorn on a free loopback port in a background thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn

from src.config import Config
from src.core.app import create_app
from src.core.server import server_config
from src.transports.base import Transport
from src.transports.http1 import Http1Transport


class RunningProxy:
    def __init__(self, config: Config, transport_factory: Callable[[], Transport] = Http1Transport) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        app = create_app(config, transport_factory)
        self._server = uvicorn.Server(server_config(app, config, lifespan="on"))  # as the CLI serves it
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> RunningProxy:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("proxy did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self._socket.close()


def config_for(upstream_url: str, **overrides: Any) -> Config:
    """A configuration with an `openrouter` backend on the fake upstream and one proxy key."""
    raw: dict[str, Any] = {
        "usage": {"database": None},  # tests that record usage give their own database
        "auth": {"api_keys": [{"name": "alice", "key": PROXY_KEY}]},
        "backends": {
            "openrouter": {"type": "openrouter", "base_url": upstream_url, "api_key": UPSTREAM_KEY, "timeout": 5},
        },
    }
    raw.update(overrides)
    return Config.model_validate(raw)


PROXY_KEY = "sy-test-proxy-key-0001"
UPSTREAM_KEY = "sk-or-v1-upstream-secret-0001"
