from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from src.config import Config
from tests.fakes.postgres import postgres_url  # noqa: F401 (the session's PostgreSQL server, for the tests that ask)
from tests.fakes.proxy import RunningProxy
from tests.fakes.upstream import FakeUpstream


@pytest.fixture(scope="session", autouse=True)
def _checkout_stays_clean() -> Iterator[None]:
    """No test leaves a usage database in the checkout: each works in a folder of its own."""
    stray = Path(__file__).resolve().parents[1] / "switchyard.db"
    before = stray.exists()
    yield
    assert before or not stray.exists(), f"a test wrote {stray}"


@pytest.fixture(autouse=True)
def _work_in_a_temporary_folder(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs in a folder of its own: a default `./switchyard.db` lands there, never in the checkout."""
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


@pytest.fixture(scope="session")
def upstream_server() -> Iterator[FakeUpstream]:
    server = FakeUpstream().start()
    yield server
    server.stop()


@pytest.fixture
def upstream(upstream_server: FakeUpstream) -> FakeUpstream:
    upstream_server.requests.clear()
    upstream_server.aborted.clear()
    return upstream_server


@pytest.fixture
def start_proxy() -> Iterator[Callable[[Config], RunningProxy]]:
    running: list[RunningProxy] = []

    def start(config: Config) -> RunningProxy:
        proxy = RunningProxy(config).start()
        running.append(proxy)
        return proxy

    yield start
    for proxy in running:
        proxy.stop()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


from tests.fakes.redis import redis_server  # noqa: E402, F401 - the session's Redis (tests/fakes/redis.py)
