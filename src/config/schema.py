"""The configuration contract: the keys of config.yaml, strict about unknown ones.

Loading, layering (CLI > environment > file > defaults) and error reporting live in
`src.config.loading`; this module only says what a valid configuration is.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Literal
from urllib.parse import parse_qsl, urlsplit

from pydantic import Field, field_validator, model_validator

from src.config.backends import BackendConfig, HybridBackendConfig, Identity
from src.config.keys import AuthConfig
from src.config.strict import Strict
from src.routing.aliases import AliasRule, check_replacement
from src.routing.selectors import INLINE_COMPOSITE, route_problem

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
_BACKEND_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


DEFAULT_DATABASE = "./switchyard.db"


class UsageConfig(Strict):
    # A SQLite file (beside the config file when relative), or a postgresql:// URL; null: no recording.
    database: str | None = DEFAULT_DATABASE


class MetricsConfig(Strict):
    public: bool = False  # serve /metrics without an admin key


class RedisConfig(Strict):
    """What instances of the proxy share through Redis (src.sharing): limits, budgets, cooldowns."""

    url: str | None = None  # redis://host:port/db (also SWITCHYARD_REDIS_URL); none: each process alone
    sync_interval: float = Field(0.1, gt=0, le=5, description="seconds between an instance's syncs")
    budget_when_down: Literal["closed", "open"] = "closed"  # closed: each instance keeps to its last share
    prefix: str = Field("switchyard", min_length=1, description="the prefix of every key this proxy writes")

    @field_validator("url")
    @classmethod
    def _redis_url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return url


class FailoverConfig(Strict):
    """How hard a request is pushed through failing routes (src.failover.decision)."""

    max_attempts: int = Field(5, ge=1, description="upstream attempts per request, retries included")
    deadline: float = Field(300.0, gt=0, description="seconds a request may spend on attempts and waits")
    max_retry_wait: float = Field(5.0, ge=0, description="longest Retry-After honoured by waiting")
    connect_retries: int = Field(2, ge=0, description="quick retries of a refused or lost connection")
    cooldown: float = Field(30.0, ge=0, description="seconds a failed route or key is skipped")


class Config(Strict):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    default_backend: str = "openrouter"
    force_model: str | None = None
    log_level: Literal[LOG_LEVELS] = "info"  # type: ignore[valid-type]
    disable_auth: bool = False
    models_cache_ttl: float = Field(300.0, ge=0, description="seconds a backend's model list is cached")
    max_request_mb: float = Field(32.0, gt=0, description="largest request body accepted, in MiB")
    max_response_mb: float = Field(64.0, gt=0, description="largest upstream answer read whole, after decoding, in MiB")
    max_event_mb: float = Field(16.0, gt=0, description="largest single event of an upstream stream, in MiB")
    request_header_timeout: float = Field(10.0, gt=0, description="seconds a client has to send a request's head")
    request_body_timeout: float = Field(30.0, gt=0, description="seconds a request body may stall before it is dropped")
    shutdown_grace: float = Field(30.0, ge=0, description="seconds open streams get to finish when the proxy stops")
    auth: AuthConfig = AuthConfig()
    identity: Identity = Identity()
    backends: dict[str, BackendConfig] = {}
    model_aliases: list[AliasRule] = []
    failover: FailoverConfig = FailoverConfig()
    usage: UsageConfig = UsageConfig()
    metrics: MetricsConfig = MetricsConfig()
    redis: RedisConfig = RedisConfig()
    failover_routes: dict[str, list[str]] = {}

    @field_validator("log_level", mode="before")
    @classmethod
    def _lowercase(cls, level: object) -> object:
        return level.lower() if isinstance(level, str) else level

    @field_validator("force_model")
    @classmethod
    def _blank_is_unset(cls, model: str | None) -> str | None:
        return model or None

    @field_validator("backends")
    @classmethod
    def _names(cls, backends: dict[str, object]) -> dict[str, object]:
        for name, backend in backends.items():
            if not _BACKEND_NAME.match(name):
                raise ValueError(f"backend name {name!r} may only use letters, digits, '_', '-' and '.'")
            if name == INLINE_COMPOSITE and not isinstance(backend, HybridBackendConfig):
                raise ValueError(
                    f"{name}.type: a backend named {name!r} must be of type hybrid: "
                    f"`{name}:[<reasoning model>,<execution model>]` in a model string names it"
                )
        return backends

    @model_validator(mode="after")
    def _consistent(self) -> Config:
        problems = []  # every one at once: a user should not fix them one start at a time
        if self.default_backend not in self.backends:
            configured = ", ".join(sorted(self.backends)) or "none"
            problems.append(
                f"default_backend: {self.default_backend!r} is not a configured backend (configured: {configured})"
            )
        for index, rule in enumerate(self.model_aliases):
            problem = check_replacement(rule.compiled, rule.replacement)
            if problem:
                problems.append(f"model_aliases.{index}.replacement: {problem}")
        problems += self._route_problems()
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def hybrid_backends(self) -> dict[str, HybridBackendConfig]:
        return {n: b for n, b in self.backends.items() if isinstance(b, HybridBackendConfig)}

    def _route_problems(self) -> list[str]:
        hybrids = self.hybrid_backends()
        plain = [name for name in self.backends if name not in hybrids]
        problems = []
        for name, hybrid in hybrids.items():
            for field_name in ("reasoning_model", "execution_model"):
                problem = route_problem(getattr(hybrid, field_name), plain, None)
                if problem:
                    problems.append(f"backends.{name}.{field_name}: {problem}")
        for key, targets in self.failover_routes.items():
            if key != "default" and route_problem(key, plain, hybrids):
                problems.append(f"failover_routes: key {key!r} {_key_problem(key, plain, hybrids)}")
            for target in targets:
                problem = route_problem(target, plain, hybrids)
                if problem:
                    problems.append(f"failover_routes: in the routes of {key!r}: {problem}")
        return problems

    def proxy_keys(self) -> dict[str, str]:
        """name -> key for every configured proxy key."""
        return {k.name: k.key.get_secret_value() for k in self.auth.api_keys}

    def secrets(self) -> tuple[str, ...]:
        """Every secret the proxy holds, for redaction from logs and error messages."""
        upstream = [key for backend in self.backends.values() for key in backend.upstream_keys()]
        urls = [url for url in (self.redis.url, self.usage.database) if url and "://" in url]  # Redis, PostgreSQL
        passwords = [urlsplit(url).password for url in urls]
        passwords += [value for url in urls for name, value in parse_qsl(urlsplit(url).query) if name == "password"]
        proxies = [
            s for b in self.backends.values() if not isinstance(b, HybridBackendConfig) for s in b.proxy_secrets()
        ]
        return tuple(s for s in (*self.proxy_keys().values(), *upstream, *passwords, *proxies) if s)


def _key_problem(key: str, plain: list[str], hybrids: dict[str, HybridBackendConfig]) -> str:
    return f"must be 'default', a backend name or <backend>:<model>: {route_problem(key, plain, hybrids)}"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
