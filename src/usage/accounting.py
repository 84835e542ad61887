"""Per-key limits and usage bookkeeping: who may send what, and what each request cost.

Owned by the runtime. Its mutable parts (the budget tally, the metrics, the record queue)
are shared across requests on purpose and changed only from the event loop, never awaited
halfway through a change.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from src.backends.catalog import ModelCatalog
from src.config import Config, ProxyKey
from src.routing.plan import Route
from src.routing.selectors import INLINE_COMPOSITE
from src.sharing.store import SYNC_TIMEOUT
from src.usage.estimate import estimate_cost
from src.usage.limits import RECENT, Budgets, KeyLimits, LimitExceeded, Reservation
from src.usage.metrics import ProxyMetrics, RouteLabels
from src.usage.pricing import cost_usd
from src.usage.record import Tokens, UsageRecord
from src.usage.shared_limits import SharedLimits
from src.usage.since import period_start
from src.usage.store import open_store
from src.wire.errors import LimitReached, PermissionDenied

# Seconds a request may wait for its process's lease to be refilled: longer than a sync may take, so
# that a store that hangs is found down (and the process's own share used) before the wait is over.
REFILL_WAIT = SYNC_TIMEOUT + 0.5


class Accounting:
    def __init__(
        self, config: Config, catalog: ModelCatalog, configured_routes: Collection[str] = (), shared: bool = False
    ) -> None:
        self.store = open_store(config.usage.database)
        self.metrics = ProxyMetrics()
        self._labels = RouteLabels((*config.backends, INLINE_COMPOSITE), configured_routes, catalog.knows)
        self._catalog = catalog
        self._open = config.disable_auth
        self._keys: dict[str, ProxyKey] = {key.name: key for key in config.auth.api_keys}
        self._allowed = {
            key.name: tuple(re.compile(p) for p in key.allowed_models)
            for key in config.auth.api_keys
            if key.allowed_models is not None
        }
        limits = {
            key.name: KeyLimits(key.budget_usd, key.budget_period, key.rpm)
            for key in config.auth.api_keys
            if key.budget_usd is not None or key.rpm is not None
        }
        # Shared by several processes (src.sharing), or this one's alone.
        self.limits = SharedLimits(limits, config.redis.budget_when_down) if shared else Budgets(limits)

    async def start(self) -> None:
        """Opens the usage store, and loads each budgeted key's spend in its period and its recent costs."""
        await self.store.start()
        now = time.time()
        periods = {key: period_start(limits.budget_period, now) for key, limits in self.limits.budgeted().items()}
        # Read together: on PostgreSQL each read is a round trip, and the store's pool serves several at once.
        histories = await asyncio.gather(*(self.store.key_history(key, since, RECENT) for key, since in periods.items()))
        for (key_name, since), (spent, recent) in zip(periods.items(), histories, strict=True):
            self.limits.load(key_name, since, spent, recent)

    def byok(self, key_name: str) -> bool:
        """Whether the key may send its own upstream key."""
        key = self._keys.get(key_name)
        return key is not None and key.byok

    def byok_fallback(self, key_name: str) -> bool:
        key = self._keys.get(key_name)
        return key is not None and key.byok_fallback

    def is_admin(self, key_name: str) -> bool:
        if self._open:
            return True  # --disable-auth, on loopback only: whoever can reach the proxy owns it
        key = self._keys.get(key_name)
        return key is not None and key.admin

    async def admit(self, key_name: str, first: Route, body_bytes: int, body: Mapping[str, Any]) -> Reservation:
        """Reserve a place for one request of `key_name`, to be served on `first` (then perhaps others);
        a 429 when the key is over its budget or rpm."""
        estimate = 0.0
        if self.limits.has_budget(key_name):  # only then is the price worth a look-up
            answerer = first.answerer
            estimate = estimate_cost(body_bytes, body, await self._pricing(answerer.backend, answerer.model))
        now = time.time()
        try:
            reservation = self.limits.admit(key_name, now, estimate)
            if reservation is None:  # this process's share is used up, the key's is not: a sync refills it
                assert isinstance(self.limits, SharedLimits)  # only a lease can run out before its limit
                reservation = await self._refilled(key_name, estimate)
            return reservation
        except LimitExceeded as exc:
            retry = exc.retry_after(now)
            code = "insufficient_quota" if exc.limit == "budget" else "rate_limit_exceeded"
            raise LimitReached(exc.message, code=code, headers={"retry-after": str(retry)} if retry else None) from None

    def allowed_routes(self, key_name: str, plan: Sequence[Route]) -> tuple[Route, ...]:
        """The plan without the routes the key may not use; a 403 if its first route is one of them."""
        patterns = self._allowed.get(key_name)
        if patterns is None:
            return tuple(plan)
        allowed = tuple(route for route in plan if any(p.fullmatch(str(route)) for p in patterns))
        if not allowed or allowed[0] != plan[0]:
            raise PermissionDenied(f"proxy key {key_name!r} may not use {plan[0]} (allowed_models)", code="model_not_allowed")
        return allowed

    async def cost(self, route: str | None, tokens: Tokens) -> float | None:
        """OpenRouter's reported cost, else the backend's catalog price, else None: never a guess."""
        if tokens.cost is not None or route is None or tokens.prompt_tokens is None:
            return cost_usd(tokens, tokens.cost, None)  # nothing to price: no catalog look-up
        backend, _, model = route.partition(":")
        pricing = await self._pricing(backend, model)
        return cost_usd(tokens, None, pricing)

    async def _pricing(self, backend: str, model: str) -> Mapping[str, Any] | None:
        if not self._catalog.lists(backend):
            return None
        entry = await self._catalog.model(backend, model)
        pricing = entry.get("pricing") if entry else None
        return pricing if isinstance(pricing, Mapping) else None

    async def _refilled(self, key_name: str, estimate: float) -> Reservation:
        """Admitted once a sync refills this process's share (a sync already under way may not), refused
        when none has by REFILL_WAIT."""
        assert isinstance(self.limits, SharedLimits)
        deadline = time.monotonic() + REFILL_WAIT
        while (left := deadline - time.monotonic()) > 0:
            await self.limits.refilled(left)
            if (reservation := self.limits.admit(key_name, time.time(), estimate)) is not None:
                return reservation
        reservation = self.limits.admit(key_name, time.time(), estimate, final=True)
        assert reservation is not None  # a final admission is made or refused
        return reservation

    def record(self, record: UsageRecord, reservation: Reservation | None) -> None:
        if reservation is not None:
            self.limits.settle(reservation, record.cost_usd)
        self.store.record(record)
        self.metrics.observe(record, self._labels(record.route, served=record.status < 400))
