"""Everything a request needs, built once at start-up and never mutated by a request."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from src.backends import build_backends
from src.backends.base import Backend
from src.core.accounting import Accounting
from src.core.auth import ProxyKeys
from src.core.catalog import ModelCatalog
from src.core.config import Config
from src.core.cooldown import Cooldowns
from src.core.dispatcher import Dispatcher
from src.core.redaction import Redactor
from src.core.routing import Router
from src.transports.base import Transport


@dataclass(frozen=True)
class Runtime:
    config: Config
    keys: ProxyKeys
    router: Router
    backends: Mapping[str, Backend]
    catalog: ModelCatalog
    redact: Redactor
    body_limit: int  # bytes
    dispatcher: Dispatcher
    accounting: Accounting

    @classmethod
    def build(cls, config: Config, transport: Transport) -> Runtime:
        backends = build_backends(config, transport)
        catalog = ModelCatalog(backends, config.default_backend, config.models_cache_ttl)
        return cls(
            config=config,
            keys=ProxyKeys(config.proxy_keys(), disabled=config.disable_auth),
            router=Router.from_config(config),
            backends=backends,
            catalog=catalog,
            redact=Redactor(config.secrets()),
            body_limit=int(config.max_request_mb * 1024 * 1024),
            dispatcher=Dispatcher(backends, config.failover, Cooldowns(config.failover.cooldown)),
            accounting=Accounting(config, catalog),
        )

    def health(self) -> dict[str, object]:
        """Each backend's state and its keys' by position; never the keys themselves."""
        counts = {name: backend.key_count for name, backend in self.backends.items()}
        counts.update((name, 0) for name in self.config.hybrid_backends())
        return {"status": "ok", "backends": self.dispatcher.cooldowns.state(counts)}
