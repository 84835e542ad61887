"""Backends in the configuration: one model per type, told apart by `type`."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, FilePath, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator

from src.config.proxies import proxy_problem, proxy_secrets, with_scheme
from src.config.strict import Strict, key_text


class HeaderRule(Strict):
    """How one identity header is sent upstream (the forms of OpenRouter's integration guide): `override`
    always sends `override_value`; `passthrough` sends the client's header, else `default_value`;
    `default` always sends `default_value`. A plain string is an override."""

    mode: Literal["override", "passthrough", "default"] = "override"
    override_value: str | None = None
    default_value: str | None = None

    @field_validator("override_value", "default_value")
    @classmethod
    def _header_safe(cls, value: str | None) -> str | None:
        if value is not None and any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
            raise ValueError("must not contain control characters (a header value cannot hold them)")
        return value

    @model_validator(mode="after")
    def _has_its_value(self) -> HeaderRule:
        needed = {"override": "override_value", "default": "default_value"}.get(self.mode)
        if needed and getattr(self, needed) is None:
            raise ValueError(f"{needed}: required with mode {self.mode}")
        return self


class Identity(Strict):
    """Headers sent upstream: `user_agent` (User-Agent), `referer` (HTTP-Referer; `url` is accepted for
    it) and `title` (X-Title and X-OpenRouter-Title). Each is a string (always sent) or a HeaderRule;
    unset fields pass the client's own on."""

    user_agent: str | HeaderRule | None = None
    referer: str | HeaderRule | None = None
    title: str | HeaderRule | None = None

    @model_validator(mode="before")
    @classmethod
    def _url_is_the_referer(cls, data: object) -> object:
        if isinstance(data, dict) and "url" in data:
            if "referer" in data:
                raise ValueError("url: set referer or url (its other name), not both")
            data = {**data, "referer": data["url"]}
            del data["url"]
        return data

    @field_validator("user_agent", "referer", "title", mode="before")
    @classmethod
    def _one_form(cls, value: object) -> object:
        if isinstance(value, str) and any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
            raise ValueError("must not contain control characters (a header value cannot hold them)")
        if isinstance(value, dict):
            try:
                return HeaderRule.model_validate(value)
            except ValidationError as exc:  # reported as `<field>.<key>: ...`, not as two failed union branches
                error = exc.errors()[0]
                where = ".".join(map(str, error["loc"]))
                text = (
                    "unknown key"
                    if error["type"] == "extra_forbidden"
                    else str(error["msg"]).removeprefix("Value error, ")
                )
                raise ValueError(f"{where}: {text}" if where else text) from None
        return value

    def over(self, fallback: Identity) -> Identity:
        """This identity, with unset fields taken from `fallback`."""
        return Identity(
            user_agent=self.user_agent or fallback.user_agent,
            referer=self.referer or fallback.referer,
            title=self.title or fallback.title,
        )


class _HTTPBackend(Strict):
    base_url: str
    api_key: SecretStr | None = None
    api_keys: list[SecretStr] = []
    timeout: float = Field(600.0, gt=0, description="seconds to wait for upstream data")
    connect_timeout: float = Field(10.0, gt=0)
    identity: Identity = Identity()
    # /v1/responses: translated to chat completions, or forwarded untouched to the upstream's own /responses.
    responses: Literal["translate", "native"] = "translate"
    # http://[user:password@]host:port; left out, the environment's (HTTPS_PROXY...); null, none at all.
    proxy: SecretStr | None = None
    ca_bundle: FilePath | None = Field(None, description="PEM file of extra certificate authorities to trust")

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
        return None if value is None else SecretStr(key_text(value.get_secret_value()))

    @field_validator("api_keys")
    @classmethod
    def _clean_keys(cls, values: list[SecretStr]) -> list[SecretStr]:
        return [SecretStr(key_text(v.get_secret_value())) for v in values]

    @field_validator("proxy")
    @classmethod
    def _usable_proxy(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        problem = proxy_problem(value.get_secret_value().strip())
        if problem:
            raise ValueError(problem)
        return SecretStr(with_scheme(value.get_secret_value().strip()))

    @property
    def follows_environment_proxy(self) -> bool:
        return "proxy" not in self.model_fields_set

    def proxy_secrets(self) -> tuple[str, ...]:
        return proxy_secrets(self.proxy.get_secret_value()) if self.proxy else ()

    @model_validator(mode="after")
    def _one_key_form(self) -> _HTTPBackend:
        if self.api_key is not None and self.api_keys:
            raise ValueError("set api_key or api_keys, not both")
        if any(not k.get_secret_value() for k in self.api_keys):
            raise ValueError("api_keys: a key is empty")
        return self

    def upstream_keys(self) -> tuple[str, ...]:
        """The usable upstream keys, in rotation order."""
        if self.api_keys:
            return tuple(k.get_secret_value() for k in self.api_keys)
        if self.api_key is not None and self.api_key.get_secret_value():
            return (self.api_key.get_secret_value(),)
        return ()


class OpenRouterBackendConfig(_HTTPBackend):
    type: Literal["openrouter"]
    base_url: str = "https://openrouter.ai/api/v1"
    anthropic_native: bool = Field(
        True, description="send /v1/messages for anthropic/* models to OpenRouter's /messages"
    )

    @model_validator(mode="after")
    def _needs_key(self, info: ValidationInfo) -> OpenRouterBackendConfig:
        if (info.context or {}).get("keys_required", True) and not self.upstream_keys():
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

    def upstream_keys(self) -> tuple[str, ...]:
        return ()  # it holds none: its legs use their own backends' keys


BackendConfig = Annotated[
    OpenRouterBackendConfig | OpenAIBackendConfig | HybridBackendConfig,
    Field(discriminator="type"),
]
BACKEND_TYPES = ("openai", "openrouter", "hybrid")
