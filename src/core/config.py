"""The configuration contract: the keys of config.yaml, strict about unknown ones.

Loading, layering (CLI > environment > file > defaults) and error reporting live
in `src/core/settings.py`; this module only says what a valid configuration is.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal, Union
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from src.core.aliases import AliasRule, check_replacement
from src.core.selectors import route_problem

MIN_PROXY_KEY_LENGTH = 8
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
_BACKEND_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _key_text(value: str) -> str:
    """A key as it will be compared and sent: without surrounding space (a file's trailing newline)."""
    value = value.strip()
    if value and not (value.isascii() and value.isprintable() and " " not in value):
        raise ValueError("must be printable ASCII without spaces")
    return value


class Identity(Strict):
    """Headers sent upstream. A configured field replaces what the client sent."""

    user_agent: str | None = None
    referer: str | None = None
    title: str | None = None

    @field_validator("user_agent", "referer", "title")
    @classmethod
    def _header_safe(cls, value: str | None) -> str | None:
        if value is not None and any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
            raise ValueError("must not contain control characters (a header value cannot hold them)")
        return value

    def over(self, fallback: Identity) -> Identity:
        """This identity, with unset fields taken from `fallback`."""
        return Identity(
            user_agent=self.user_agent or fallback.user_agent,
            referer=self.referer or fallback.referer,
            title=self.title or fallback.title,
        )


class ProxyKey(Strict):
    name: str = Field(min_length=1)
    key: SecretStr
    admin: bool = False  # sees everyone's usage and the metrics
    budget_usd: float | None = Field(None, ge=0)
    budget_period: Literal["daily", "monthly", "total"] = "monthly"
    rpm: int | None = Field(None, ge=1, description="requests per minute")
    allowed_models: list[str] | None = None  # regexes a route's `backend:model` must fully match

    @field_validator("allowed_models")
    @classmethod
    def _patterns(cls, patterns: list[str] | None) -> list[str] | None:
        for pattern in patterns or ():
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"invalid regex {pattern!r}: {exc}") from None
        return patterns

    @field_validator("key")
    @classmethod
    def _usable(cls, value: SecretStr) -> SecretStr:
        key = _key_text(value.get_secret_value())
        if not key:
            raise ValueError("is empty")
        if len(key) < MIN_PROXY_KEY_LENGTH:
            raise ValueError(f"is shorter than {MIN_PROXY_KEY_LENGTH} characters: too easy to guess")
        return SecretStr(key)


class AuthConfig(Strict):
    api_keys: list[ProxyKey] = []

    @field_validator("api_keys")
    @classmethod
    def _unique(cls, keys: list[ProxyKey]) -> list[ProxyKey]:
        names = [k.name for k in keys]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate key name(s): {', '.join(duplicates)}")
        return keys


class _HTTPBackend(Strict):
    base_url: str
    api_key: SecretStr | None = None
    api_keys: list[SecretStr] = []
    timeout: float = Field(600.0, gt=0, description="seconds to wait for upstream data")
    connect_timeout: float = Field(10.0, gt=0)
    identity: Identity = Identity()

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        # Messages never quote the value: a misplaced key may be in it.
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or " " in url:
            raise ValueError("must be an http:// or https:// URL with a host")
        if parts.username or parts.password:
            raise ValueError("must not hold credentials; use api_key")
        try:
            parts.port  # noqa: B018 - raises on a bad port
        except ValueError:
            raise ValueError("has an invalid port") from None
        return url.rstrip("/")

    @field_validator("api_key")
    @classmethod
    def _clean_key(cls, value: SecretStr | None) -> SecretStr | None:
        return None if value is None else SecretStr(_key_text(value.get_secret_value()))

    @field_validator("api_keys")
    @classmethod
    def _clean_keys(cls, values: list[SecretStr]) -> list[SecretStr]:
        return [SecretStr(_key_text(v.get_secret_value())) for v in values]

    @model_validator(mode="after")
    def _one_key_form(self) -> _HTTPBackend:
        if self.api_key is not None and self.api_keys:
            raise ValueError("set api_key or api_keys, not both")
        if any(not k.get_secret_value() for k in self.api_keys):
            raise ValueError("api_keys: a key is empty")
        return self

    def keys(self) -> tuple[str, ...]:
        """The usable upstream keys, in rotation order."""
        if self.api_keys:
            return tuple(k.get_secret_value() for k in self.api_keys)
        if self.api_key is not None and self.api_key.get_secret_value():
            return (self.api_key.get_secret_value(),)
        return ()


class OpenRouterBackendConfig(_HTTPBackend):
    type: Literal["openrouter"]
    base_url: str = "https://openrouter.ai/api/v1"
    anthropic_native: bool = Field(True, description="send /v1/messages for anthropic/* models to OpenRouter's /messages")

    @model_validator(mode="after")
    def _needs_key(self) -> OpenRouterBackendConfig:
        if not self.keys():
            raise ValueError("api_key: an OpenRouter backend needs a key (set OPENROUTER_API_KEY)")
        return self


class OpenAIBackendConfig(_HTTPBackend):
    type: Literal["openai"]


class HybridBackendConfig(Strict):
    """One model's reasoning, then another model's answer (src/backends/hybrid.py)."""

    type: Literal["hybrid"]
    reasoning_model: str
    execution_model: str
    reasoning_timeout: float = Field(60.0, gt=0, description="seconds the reasoning phase may take")

    def keys(self) -> tuple[str, ...]:
        return ()  # it holds none: its legs use their own backends' keys


BackendConfig = Annotated[
    Union[OpenRouterBackendConfig, OpenAIBackendConfig, HybridBackendConfig],
    Field(discriminator="type"),
]
BACKEND_TYPES = ("openai", "openrouter", "hybrid")


class UsageConfig(Strict):
    database: str | None = "./switchyard.db"  # SQLite file; null turns recording off


class MetricsConfig(Strict):
    public: bool = False  # serve /metrics without an admin key


class FailoverConfig(Strict):
    """How hard a request is pushed through failing routes (src/core/failover.py)."""

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
    auth: AuthConfig = AuthConfig()
    identity: Identity = Identity()
    backends: dict[str, BackendConfig] = {}
    model_aliases: list[AliasRule] = []
    failover: FailoverConfig = FailoverConfig()
    usage: UsageConfig = UsageConfig()
    metrics: MetricsConfig = MetricsConfig()
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
        for name in backends:
            if not _BACKEND_NAME.match(name):
                raise ValueError(f"backend name {name!r} may only use letters, digits, '_', '-' and '.'")
        return backends

    @model_validator(mode="after")
    def _consistent(self) -> Config:
        if self.default_backend not in self.backends:
            configured = ", ".join(sorted(self.backends)) or "none"
            raise ValueError(
                f"default_backend: {self.default_backend!r} is not a configured backend (configured: {configured})"
            )
        for index, rule in enumerate(self.model_aliases):
            problem = check_replacement(rule.compiled, rule.replacement)
            if problem:
                raise ValueError(f"model_aliases.{index}.replacement: {problem}")
        self._check_routes()
        return self

    def hybrid_backends(self) -> dict[str, HybridBackendConfig]:
        return {n: b for n, b in self.backends.items() if isinstance(b, HybridBackendConfig)}

    def _check_routes(self) -> None:
        hybrids = self.hybrid_backends()
        plain = [name for name in self.backends if name not in hybrids]
        for name, hybrid in hybrids.items():
            for field_name in ("reasoning_model", "execution_model"):
                problem = route_problem(getattr(hybrid, field_name), plain, None)
                if problem:
                    raise ValueError(f"backends.{name}.{field_name}: {problem}")
        for key, targets in self.failover_routes.items():
            if key != "default" and route_problem(key, plain, hybrids):
                raise ValueError(f"failover_routes: key {key!r} {_key_problem(key, plain, hybrids)}")
            for target in targets:
                problem = route_problem(target, plain, hybrids)
                if problem:
                    raise ValueError(f"failover_routes: in the routes of {key!r}: {problem}")

    def proxy_keys(self) -> dict[str, str]:
        """name -> key for every configured proxy key."""
        return {k.name: k.key.get_secret_value() for k in self.auth.api_keys}

    def secrets(self) -> tuple[str, ...]:
        """Every secret the proxy holds, for redaction from logs and error messages."""
        upstream = [key for backend in self.backends.values() for key in backend.keys()]
        return tuple(s for s in (*self.proxy_keys().values(), *upstream) if s)


def _key_problem(key: str, plain: list[str], hybrids: dict[str, HybridBackendConfig]) -> str:
    return f"must be 'default', a backend name or <backend>:<model>: {route_problem(key, plain, hybrids)}"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
