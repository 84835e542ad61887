"""Everything a request needs, built once at start-up and never mutated by a request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from src.backends import build_backends
from src.backends.catalog import ModelCatalog
from src.config import Config
from src.core.auth import ProxyKeys
from src.failover.cooldown import Cooldowns
from src.failover.dispatcher import Dispatcher
from src.frontends.gateway import Gateway
from src.frontends.responses_state import ResponsesState
from src.routing.plan import Router
from src.sharing.file_store import FileStore
from src.sharing.store import SharedStore
from src.sharing.syncer import CooldownRelay, Link, Syncer
from src.translation.reasoning_carrier import Carrier
from src.transports.base import Transport
from src.usage.accounting import Accounting
from src.usage.shared_limits import SharedLimits
from src.usage.shared_metrics import SharedMetrics
from src.wire.errors import ProxyError
from src.wire.redaction import Redactor


@dataclass(frozen=True)
class Sharing:
    """How this process keeps in step with the others (Redis, or the workers' shared folder)."""

    store: SharedStore
    syncer: Syncer
    relay: CooldownRelay

    @classmethod
    def of(cls, config: Config, shared_dir: Path | None) -> tuple[SharedStore, Link] | None:
        if config.redis.url:
            # Imported only here: the Redis client adds 7 MB to every process, used or not.
            from src.sharing.redis_store import RedisStore

            return RedisStore(config.redis.url, config.redis.prefix), Link("redis")
        if shared_dir is not None:
            return FileStore(shared_dir / "limits.db"), Link("file")
        return None


@dataclass(frozen=True)
class Runtime:
    config: Config
    keys: ProxyKeys
    gateway: Gateway
    redact: Redactor
    body_limit: int  # bytes
    shared_metrics: SharedMetrics | None = None  # with --workers N: /metrics sums every worker's
    sharing: Sharing | None = None  # limits, budgets and cooldowns kept with other processes

    @property
    def accounting(self) -> Accounting:
        return self.gateway.accounting

    @classmethod
    def build(cls, config: Config, transport: Transport, shared_dir: Path | None = None) -> Runtime:
        """`shared_dir`: the folder the workers of `--workers N` share (metrics, and limits without Redis)."""
        backends = build_backends(config, transport)
        redact = Redactor(config.secrets())
        catalog = ModelCatalog(backends, config.default_backend, config.models_cache_ttl)
        router = router_for(config)
        found = Sharing.of(config, shared_dir)
        accounting = Accounting(config, catalog, configured_routes(config, router), shared=found is not None)
        sharing, cooldowns = None, Cooldowns(config.failover.cooldown)
        if found is not None:
            store, link = found
            relay = CooldownRelay(store, lambda cooling: cooldowns.mirror(cooling))
            cooldowns = Cooldowns(config.failover.cooldown, announce=relay.publish)
            limits = accounting.limits
            assert isinstance(limits, SharedLimits)
            sharing = Sharing(store, Syncer(store, limits, config.redis.sync_interval, link), relay)
        gateway = Gateway(
            router=router,
            backends=backends,
            dispatcher=Dispatcher(backends, config.failover, cooldowns, redact),
            accounting=accounting,
            catalog=catalog,
            responses=ResponsesState(Carrier(config.secrets())),
            max_response=int(config.max_response_mb * 1024 * 1024),
        )
        keys = ProxyKeys(config.proxy_keys(), disabled=config.disable_auth)
        shared = SharedMetrics(shared_dir, accounting.metrics) if shared_dir else None
        return cls(config, keys, gateway, redact, int(config.max_request_mb * 1024 * 1024), shared, sharing)

    def metrics_text(self) -> str:
        metrics = self.accounting.metrics
        metrics.shared_store_down.set(0 if self.sharing is None or self.sharing.syncer.link.up else 1)
        return self.shared_metrics.render() if self.shared_metrics else metrics.render()

    def health(self) -> dict[str, Any]:
        """Each configured backend's state and its keys' by position; never the keys themselves."""
        backends, dispatcher = self.gateway.backends, self.gateway.dispatcher
        counts = {name: backends[name].key_count for name in self.config.backends}
        report = {"status": "ok", "backends": dispatcher.health.report(dispatcher.cooldowns.state(counts))}
        if self.sharing is not None:
            link = self.sharing.syncer.link
            since = datetime.fromtimestamp(link.since, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            report["shared_store"] = {"kind": link.kind, "state": "up" if link.up else "down", "since": since,
                                      **({"reason": link.reason} if not link.up else {})}  # fmt: skip
        return report


def router_for(config: Config) -> Router:
    return Router.build(
        default_backend=config.default_backend,
        backends=frozenset(config.backends),
        aliases=tuple(config.model_aliases),
        force_model=config.force_model,
        fallbacks={key: tuple(targets) for key, targets in config.failover_routes.items()},
        composite_legs={name: (h.reasoning_model, h.execution_model) for name, h in config.hybrid_backends().items()},
    )


def configured_routes(config: Config, router: Router) -> set[str]:
    """The routes the configuration names, each a metric label from the start."""
    texts = [key for key in config.failover_routes if key != "default"]
    texts += [target for targets in config.failover_routes.values() for target in targets]
    texts += [rule.replacement for rule in config.model_aliases if "\\" not in rule.replacement]
    texts += [config.force_model] if config.force_model else []
    routes = {str(route) for route in router.composites.values()}
    for text in texts:
        try:
            routes.update(str(route) for route in router.plan(text))
        except ProxyError:
            continue  # a bare backend name, or a template: not a route of its own
    return routes
