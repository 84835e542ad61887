"""Everything a request needs, built once at start-up and never mutated by a request."""

from __future__ import annotations

from dataclasses import dataclass
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
from src.translation.reasoning_carrier import Carrier
from src.transports.base import Transport
from src.usage.accounting import Accounting
from src.usage.shared_metrics import SharedMetrics
from src.wire.errors import ProxyError
from src.wire.redaction import Redactor


@dataclass(frozen=True)
class Runtime:
    config: Config
    keys: ProxyKeys
    gateway: Gateway
    redact: Redactor
    body_limit: int  # bytes
    shared_metrics: SharedMetrics | None = None  # with --workers N: /metrics sums every worker's

    @property
    def accounting(self) -> Accounting:
        return self.gateway.accounting

    @classmethod
    def build(cls, config: Config, transport: Transport, metrics_dir: Path | None = None) -> Runtime:
        backends = build_backends(config, transport)
        redact = Redactor(config.secrets())
        catalog = ModelCatalog(backends, config.default_backend, config.models_cache_ttl)
        router = router_for(config)
        accounting = Accounting(config, catalog, configured_routes(config, router))
        gateway = Gateway(
            router=router,
            backends=backends,
            dispatcher=Dispatcher(backends, config.failover, Cooldowns(config.failover.cooldown), redact),
            accounting=accounting,
            catalog=catalog,
            responses=ResponsesState(Carrier(config.secrets())),
            max_response=int(config.max_response_mb * 1024 * 1024),
        )
        keys = ProxyKeys(config.proxy_keys(), disabled=config.disable_auth)
        shared = SharedMetrics(metrics_dir, accounting.metrics) if metrics_dir else None
        return cls(config, keys, gateway, redact, int(config.max_request_mb * 1024 * 1024), shared)

    def metrics_text(self) -> str:
        return self.shared_metrics.render() if self.shared_metrics else self.accounting.metrics.render()

    def health(self) -> dict[str, Any]:
        """Each configured backend's state and its keys' by position; never the keys themselves."""
        backends, dispatcher = self.gateway.backends, self.gateway.dispatcher
        counts = {name: backends[name].key_count for name in self.config.backends}
        return {"status": "ok", "backends": dispatcher.health.report(dispatcher.cooldowns.state(counts))}


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
