"""The models every backend offers, fetched from each backend's `GET /models` and cached."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from src.backends.base import Backend
from src.wire.errors import UpstreamError

log = logging.getLogger("switchyard.catalog")
# Fields of a backend's model entry worth keeping: OpenRouter's context length, prices and capabilities.
FAILURE_TTL = 30.0  # seconds before a backend that failed to list its models is asked again
KEPT_FIELDS = ("name", "context_length", "pricing", "supported_parameters", "architecture", "top_provider")


def public_model(raw: Mapping[str, Any], backend: str, is_default: bool) -> dict[str, Any]:
    """One entry of the OpenAI list format, with an id that can be sent back as `model` unchanged."""
    model_id = raw["id"]
    entry: dict[str, Any] = {
        "id": model_id if is_default else f"{backend}:{model_id}",  # ModelCatalog.public_id
        "object": "model",
        "created": raw.get("created") if isinstance(raw.get("created"), int) else 0,
        "owned_by": raw.get("owned_by") or _vendor(model_id) or backend,
    }
    entry.update((k, raw[k]) for k in KEPT_FIELDS if raw.get(k) is not None)
    return entry


def _vendor(model_id: str) -> str | None:
    vendor, slash, _ = model_id.lstrip("~").partition("/")
    return vendor if slash else None


class Listing(NamedTuple):
    expires: float
    models: list[dict[str, Any]]
    by_id: dict[str, dict[str, Any]]  # every answer is priced from here: no scan of 300+ models

    @classmethod
    def of(cls, expires: float, models: list[dict[str, Any]]) -> Listing:
        return cls(expires, models, {model["id"]: model for model in reversed(models)})  # the first of a repeated id


class ModelCatalog:
    def __init__(
        self,
        backends: Mapping[str, Backend],
        default_backend: str,
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._backends = {name: backend for name, backend in backends.items() if backend.lists_models}
        self._default = default_backend
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[str, Listing] = {}
        self._locks = {name: asyncio.Lock() for name in self._backends}

    def lists(self, backend: str) -> bool:
        return backend in self._backends

    def public_id(self, backend: str, model: str) -> str:
        """The id a client sends back for `model` of `backend`: plain on the default backend."""
        return model if backend == self._default else f"{backend}:{model}"

    async def models(self) -> list[dict[str, Any]]:
        per_backend = await asyncio.gather(*(self.backend_models(name) for name in self._backends))
        return [model for models in per_backend for model in models]

    async def backend_models(self, name: str) -> list[dict[str, Any]]:
        """The backend's models, from cache while fresh; stale (or none) if the backend cannot answer."""
        return (await self._listing(name)).models

    def knows(self, backend: str, model: str) -> bool:
        """Whether `backend`'s listing, as last fetched, has `model`; never fetches."""
        listing = self._cache.get(backend)
        return listing is not None and self.public_id(backend, model) in listing.by_id

    async def model(self, backend: str, model: str) -> dict[str, Any] | None:
        """The catalog entry of `model` on `backend`, if the backend lists it."""
        return (await self._listing(backend)).by_id.get(self.public_id(backend, model))

    async def _listing(self, name: str) -> Listing:
        # Every answer is priced from here, so the common path must not queue on the lock: an
        # asyncio.Lock hands itself on once per loop iteration, and under steady load a queue
        # that forms during one refresh would then never drain. Only a refresh takes the lock,
        # and while one is under way everyone else gets the stale list.
        lock = self._locks[name]
        cached = self._cache.get(name)
        if cached and (self._clock() < cached.expires or lock.locked()):
            return cached
        async with lock:
            cached = self._cache.get(name)
            if cached and self._clock() < cached.expires:
                return cached
            try:
                raw = await self._backends[name].list_models()
            except UpstreamError as exc:
                log.warning("cannot list the models of backend %s: %s", name, exc.message)
                # Keep what we had, and do not ask a backend that is down again on every call.
                models = cached.models if cached else []
                listing = Listing.of(self._clock() + min(self._ttl, FAILURE_TTL), models)
            else:
                models = [public_model(m, name, name == self._default) for m in raw]
                listing = Listing.of(self._clock() + self._ttl, models)
            self._cache[name] = listing
            return listing
