"""ModelCatalog: every backend's models, cached (entries: test_catalog_entries.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from src.backends.base import Backend
from src.backends.catalog import FAILURE_TTL, ModelCatalog
from src.wire.errors import UpstreamProtocolError, UpstreamTimeout, UpstreamUnreachable


class FakeBackend(Backend):
    lists_models = True

    def __init__(self, *batches: list[dict[str, Any]] | Exception) -> None:
        super().__init__("fake")
        self.batches = list(batches)
        self.calls = 0

    async def list_models(self) -> list[dict[str, Any]]:
        result = self.batches[min(self.calls, len(self.batches) - 1)]
        self.calls += 1
        if isinstance(result, Exception):
            raise result
        return result


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


V1 = [{"id": "gpt-4o"}]
V2 = [{"id": "gpt-4o"}, {"id": "gpt-5"}]


def ids(models: list[dict[str, Any]]) -> list[str]:
    return [m["id"] for m in models]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("advance", "calls", "expected"),
    [
        (0, 1, ["gpt-4o"]),
        (59.9, 1, ["gpt-4o"]),
        (60, 2, ["gpt-4o", "gpt-5"]),
        (61, 2, ["gpt-4o", "gpt-5"]),
        (3600, 2, ["gpt-4o", "gpt-5"]),
    ],
)
async def test_cache_ttl(advance: float, calls: int, expected: list[str]) -> None:
    backend = FakeBackend(V1, V2)
    clock = Clock()
    catalog = ModelCatalog({"openai": backend}, "openai", ttl=60, clock=clock)
    assert ids(await catalog.models()) == ["gpt-4o"]
    assert backend.calls == 1
    clock.now += advance
    assert ids(await catalog.models()) == expected
    assert ids(await catalog.backend_models("openai")) == expected
    assert backend.calls == calls


@pytest.mark.anyio
async def test_cached_many_times_within_ttl() -> None:
    backend = FakeBackend(V1, V2)
    clock = Clock()
    catalog = ModelCatalog({"openai": backend}, "openai", ttl=60, clock=clock)
    for step in range(10):
        clock.now = 1000.0 + step * 5
        assert ids(await catalog.models()) == ["gpt-4o"]
    assert backend.calls == 1


@pytest.mark.anyio
@pytest.mark.parametrize(
    "error",
    [UpstreamUnreachable("b", "down"), UpstreamTimeout("b", "slow"), UpstreamProtocolError("b", "not a list")],
)
async def test_failing_backend_without_cache_yields_nothing_and_is_not_asked_again_at_once(error: Exception) -> None:
    backend = FakeBackend(error, V1)
    clock = Clock()
    catalog = ModelCatalog({"b": backend}, "b", ttl=300, clock=clock)
    assert await catalog.models() == []
    assert await catalog.backend_models("b") == []
    clock.now += FAILURE_TTL - 0.1
    assert await catalog.models() == []
    assert backend.calls == 1  # the failure is remembered for FAILURE_TTL seconds
    clock.now += 0.1
    assert ids(await catalog.models()) == ["gpt-4o"]
    assert backend.calls == 2


@pytest.mark.anyio
async def test_failing_backend_yields_stale_data_until_asked_again() -> None:
    backend = FakeBackend(V1, UpstreamUnreachable("b", "down"), V2)
    clock = Clock()
    catalog = ModelCatalog({"b": backend}, "b", ttl=60, clock=clock)
    assert ids(await catalog.models()) == ["gpt-4o"]
    clock.now += 120
    assert ids(await catalog.models()) == ["gpt-4o"]  # stale, not raised
    assert backend.calls == 2
    clock.now += FAILURE_TTL - 1
    assert ids(await catalog.models()) == ["gpt-4o"]  # still stale, from the cache
    assert backend.calls == 2
    clock.now += 1
    assert ids(await catalog.models()) == ["gpt-4o", "gpt-5"]
    assert backend.calls == 3
    # fresh data is cached for the full ttl again
    clock.now += 59
    assert ids(await catalog.models()) == ["gpt-4o", "gpt-5"]
    assert backend.calls == 3


@pytest.mark.anyio
@pytest.mark.parametrize(("ttl", "retry_after"), [(10, 10), (FAILURE_TTL, FAILURE_TTL), (300, 30), (3600, 30)])
async def test_failure_is_remembered_for_the_shorter_of_ttl_and_failure_ttl(ttl: float, retry_after: float) -> None:
    backend = FakeBackend(UpstreamUnreachable("b", "down"))
    clock = Clock()
    catalog = ModelCatalog({"b": backend}, "b", ttl=ttl, clock=clock)
    await catalog.models()
    clock.now += retry_after - 0.5
    await catalog.models()
    assert backend.calls == 1
    clock.now += 0.5
    await catalog.models()
    assert backend.calls == 2


@pytest.mark.anyio
async def test_without_a_cache_a_failing_backend_is_asked_every_time() -> None:
    backend = FakeBackend(UpstreamUnreachable("b", "down"))
    catalog = ModelCatalog({"b": backend}, "b", ttl=0, clock=Clock())
    for _ in range(3):
        assert await catalog.models() == []
    assert backend.calls == 3


@pytest.mark.anyio
async def test_several_backends_concatenated() -> None:
    openai = FakeBackend([{"id": "gpt-4o"}, {"id": "gpt-4o-mini"}])
    openrouter = FakeBackend([{"id": "anthropic/claude-3-haiku:beta", "context_length": 200000}])
    down = FakeBackend(UpstreamUnreachable("down", "connection refused"))
    ollama = FakeBackend([{"id": "llama3:8b"}])
    catalog = ModelCatalog(
        {"openai": openai, "openrouter": openrouter, "down": down, "ollama": ollama},
        "openai",
        ttl=60,
        clock=Clock(),
    )
    models = await catalog.models()
    assert ids(models) == ["gpt-4o", "gpt-4o-mini", "openrouter:anthropic/claude-3-haiku:beta", "ollama:llama3:8b"]
    assert models[2]["context_length"] == 200000
    assert models[2]["owned_by"] == "anthropic"
    assert [b.calls for b in (openai, openrouter, down, ollama)] == [1, 1, 1, 1]


class GatedBackend(FakeBackend):
    """A backend whose answers wait until the test opens the gate."""

    def __init__(self, *batches: list[dict[str, Any]] | Exception) -> None:
        super().__init__(*batches)
        self.gate = asyncio.Event()

    async def list_models(self) -> list[dict[str, Any]]:
        await self.gate.wait()
        return await super().list_models()


@pytest.mark.anyio
async def test_during_a_refresh_callers_get_the_stale_list_without_waiting() -> None:
    backend = GatedBackend(V1, V2)
    clock = Clock()
    catalog = ModelCatalog({"openai": backend}, "openai", ttl=60, clock=clock)
    backend.gate.set()
    await catalog.backend_models("openai")
    backend.gate.clear()
    clock.now += 60
    refresh = asyncio.ensure_future(catalog.backend_models("openai"))
    await asyncio.sleep(0)  # the refresh now holds the lock and waits on the backend
    # Not one of these may queue behind the refresh: under load, that queue never drains.
    stale = [await asyncio.wait_for(catalog.backend_models("openai"), 0.5) for _ in range(100)]
    assert all(ids(models) == ["gpt-4o"] for models in stale)
    backend.gate.set()
    assert ids(await refresh) == ["gpt-4o", "gpt-5"]
    assert ids(await catalog.backend_models("openai")) == ["gpt-4o", "gpt-5"]
    assert backend.calls == 2


@pytest.mark.anyio
async def test_first_callers_share_one_fetch() -> None:
    backend = GatedBackend(V1)
    catalog = ModelCatalog({"openai": backend}, "openai", ttl=60, clock=Clock())
    callers = [asyncio.ensure_future(catalog.backend_models("openai")) for _ in range(20)]
    await asyncio.sleep(0)
    backend.gate.set()
    assert all(ids(models) == ["gpt-4o"] for models in await asyncio.gather(*callers))
    assert backend.calls == 1


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("backend", "model", "expected"),
    [
        ("openai", "gpt-4o", "gpt-4o"),
        ("openai", "gpt-5", None),
        ("ollama", "llama3:8b", "ollama:llama3:8b"),
        ("ollama", "gpt-4o", None),
    ],
)
async def test_one_model_by_the_id_a_route_names(backend: str, model: str, expected: str | None) -> None:
    catalog = ModelCatalog(
        {"openai": FakeBackend(V1), "ollama": FakeBackend([{"id": "llama3:8b"}])},
        "openai",
        ttl=60,
        clock=Clock(),
    )
    entry = await catalog.model(backend, model)
    assert (entry["id"] if entry else None) == expected


class Unlisted(FakeBackend):
    """A backend that does not list models (the hybrid): the catalog never asks it."""

    lists_models = False


@pytest.mark.anyio
async def test_only_backends_that_list_models_are_in_the_catalog() -> None:
    unlisted, listed = Unlisted(V2), FakeBackend(V1)
    catalog = ModelCatalog({"hybrid": unlisted, "openai": listed, "plain": Backend("plain")}, "openai", 60, Clock())
    assert (catalog.lists("openai"), catalog.lists("hybrid"), catalog.lists("plain")) == (True, False, False)
    assert ids(await catalog.models()) == ["gpt-4o"]
    assert (unlisted.calls, listed.calls) == (0, 1)


@pytest.mark.anyio
async def test_knows_only_what_was_fetched_and_never_fetches() -> None:
    backend = FakeBackend([{"id": "llama3:8b"}])
    catalog = ModelCatalog({"openai": FakeBackend(V1), "ollama": backend}, "openai", ttl=60, clock=Clock())
    assert not catalog.knows("ollama", "llama3:8b")
    assert backend.calls == 0
    await catalog.models()
    assert catalog.knows("ollama", "llama3:8b") and catalog.knows("openai", "gpt-4o")
    assert not catalog.knows("ollama", "gpt-4o") and not catalog.knows("nowhere", "gpt-4o")
