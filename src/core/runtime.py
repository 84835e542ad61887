"""Everything a request needs, built once at start-up and never mutated by a request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from src.backends import build_backends
from src.backends.catalog import ModelCatalog
from src.config import Config
from src.core.auth import ProxyKeys
from src.failover.cooldown import Cooldowns
from src.failover.dispatcher import Dispatcher
from src.frontends.gateway import Gateway
from src.routing.plan import Router
from src.transports.base import Transport
from src.usage.accounting import Accounting
from src.wire.redaction import Redactor


@dataclass(frozen=True)
class Runtime:
    config: Config
    keys: ProxyKeys
    gateway: Gateway
    redact: Redactor
    body_limit: int  # bytes

    @property
    def accounting(self) -> Accounting:
        return self.gateway.accounting

    @classmethod
    def build(cls, config: Config, transport: Transport) -> Runtime:
        backends = build_backends(config, transport)
        redact = Redactor(config.secrets())
        catalog = ModelCatalog(backends, config.default_backend, config.models_cache_ttl)
        gateway = Gateway(
            router=router_for(config),
            backends=backends,
            dispatcher=Dispatcher(backends, config.failover, Cooldowns(config.failover.cooldown), redact),
            accounting=Accounting(config, catalog),
            catalog=catalog,
        )
        keys = ProxyKeys(config.proxy_keys(), disabled=config.disable_auth)
        return cls(config, keys, gateway, redact, int(config.max_request_mb * 1024 * 1024))

    def health(self) -> dict[str, Any]:
        """Each configured backend's state and its keys' by position; never the keys themselves."""
        backends = self.gateway.backends
        counts = {name: backends[name].key_count for name in self.config.backends}
        return {"status": "ok", "backends": self.gateway.dispatcher.cooldowns.state(counts)}


def router_for(config: Config) -> Router:
    return Router.build(
        default_backend=config.default_backend,
        backends=frozenset(config.backends),
        aliases=tuple(config.model_aliases),
        force_model=config.force_model,
        fallbacks={key: tuple(targets) for key, targets in config.failover_routes.items()},
        composite_legs={name: (h.reasoning_model, h.execution_model) for name, h in config.hybrid_backends().items()},
    )
