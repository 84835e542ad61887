"""Loading the configuration: CLI flags > environment > config.yaml > built-in defaults.

Every failure becomes one ConfigError naming the file (or variable, or flag) and the key.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings.sources.utils import parse_env_vars

from src.config.backends import BACKEND_TYPES, HybridBackendConfig
from src.config.errors import ConfigError, Problem
from src.config.proxies import environment_proxy, proxy_problem, with_scheme
from src.config.schema import DEFAULT_DATABASE, Config
from src.config.yaml_file import expand_variables, read_yaml
from src.wire.fields import object_at

DEFAULT_CONFIG_FILE = Path("config.yaml")
ENV_KEY_NAME = "default"  # the name SWITCHYARD_API_KEY gets among the proxy keys
_OVERRIDABLE = ("host", "port", "default_backend", "force_model", "log_level", "disable_auth")


class EnvSettings(BaseSettings):
    """The environment layer."""

    model_config = SettingsConfigDict(env_prefix="SWITCHYARD_", extra="ignore")

    config: Path | None = None
    host: str | None = None
    port: int | None = None
    default_backend: str | None = None
    force_model: str | None = None
    log_level: str | None = None
    disable_auth: bool | None = None
    api_key: SecretStr | None = None
    redis_url: SecretStr | None = None  # its password, if any, is a secret
    openrouter_api_key: SecretStr | None = Field(None, validation_alias=AliasChoices("OPENROUTER_API_KEY"))

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment arrives through `from_environ`, so tests can pass their own mapping.
        return (init_settings,)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> EnvSettings:
        # Blank variables count as unset: `export SWITCHYARD_FORCE_MODEL=` is not an error.
        present = {name: value for name, value in environ.items() if value.strip()}
        return cls(**_MappingEnvSource(cls, present)())


class _MappingEnvSource(EnvSettingsSource):
    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(self._environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)


Check = Callable[[Config], "tuple[str, str] | None"]
IDENTITY_FLAGS = {"identity_user_agent": "user_agent", "identity_referer": "referer", "identity_title": "title"}


def load_config(
    cli: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    check: Check | None = None,
    keys_required: bool = True,
) -> Config:
    """Build the Config from every layer. `cli` holds the flags the user gave (None = not given).

    `check` may refuse a valid Config for a purpose (as serving does), as (key, message). Every
    problem is reported at once, each blamed on the flag, variable or file its key came from.
    `keys_required=False` accepts an OpenRouter backend without a key, and an unset `${VAR}` as
    empty (local reports need no secrets).
    """
    cli = {k: v for k, v in (cli or {}).items() if v is not None}
    env, problems = _read_env(os.environ if environ is None else environ)
    path = _config_path(cli.get("config"), env.config if env else None)
    where = str(path) if path else "built-in defaults"
    raw = expand_variables(read_yaml(path), environ, where, unset_ok=not keys_required) if path else {}
    merged, origins = merge_layers(raw, env or EnvSettings(), cli)
    try:
        config = Config.model_validate(_anchored(merged, path), context={"keys_required": keys_required})
        config, proxy_problems = _with_environment_proxies(config, os.environ if environ is None else environ)
        problems += proxy_problems
        found = check(config) if check and not problems else None
        problems += [(_blame(origins, found[0], where), *found)] if found else []
    except ValidationError as exc:
        problems += [(_blame(origins, key, where), key, message) for key, message in describe(exc)]
    if problems:
        raise ConfigError.of(problems)
    return config


def _with_environment_proxies(config: Config, environ: Mapping[str, str]) -> tuple[Config, list[Problem]]:
    """Each HTTP backend without a `proxy:` of its own takes the environment's for its URL (or none)."""
    problems: dict[str, Problem] = {}  # a variable no backend uses is not checked, as curl does not
    backends = dict(config.backends)
    for name, backend in config.backends.items():
        if not isinstance(backend, HybridBackendConfig) and backend.follows_environment_proxy:
            found = environment_proxy(backend.base_url, environ)
            problem = proxy_problem(found[1]) if found else None
            if found and problem:
                problems[found[0]] = (found[0], "proxy", problem)
            proxy = SecretStr(with_scheme(found[1])) if found else None
            backends[name] = backend.model_copy(update={"proxy": proxy})
    return config.model_copy(update={"backends": backends}), list(problems.values())


def _blame(origins: Mapping[str, str], key: str, where: str) -> str:
    """The flag or variable that set `key` (the most specific one that did), else the file."""
    for prefix in sorted(origins, key=len, reverse=True):
        if key == prefix or key.startswith(prefix + "."):
            return origins[prefix]
    return where


def _anchored(merged: dict[str, Any], path: Path | None) -> dict[str, Any]:
    """Relative paths (the usage database, a backend's ca_bundle) lie beside the config file that names
    them, wherever the proxy is started."""
    if path is None:
        return merged
    folder = path.resolve().parent
    usage = object_at(merged, "usage")
    database = usage.get("database", DEFAULT_DATABASE)
    if isinstance(database, str) and not Path(database).is_absolute() and "://" not in database:
        merged = {**merged, "usage": {**usage, "database": str(folder / database)}}
    backends = merged.get("backends")
    if isinstance(backends, dict):
        merged = {**merged, "backends": {name: _anchor_bundle(b, folder) for name, b in backends.items()}}
    return merged


def _anchor_bundle(backend: Any, folder: Path) -> Any:
    bundle = backend.get("ca_bundle") if isinstance(backend, dict) else None
    if not isinstance(bundle, str):
        return backend
    return {**backend, "ca_bundle": str(folder / Path(bundle).expanduser())}  # an absolute path stays itself


def _read_env(environ: Mapping[str, str]) -> tuple[EnvSettings | None, list[Problem]]:
    try:
        return EnvSettings.from_environ(environ), []
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = str(error["loc"][0])
            variable = "OPENROUTER_API_KEY" if name == "openrouter_api_key" else f"SWITCHYARD_{name.upper()}"
            problems.append((variable, name, _message(error)))
        return None, problems


def config_source(from_cli: str | None, environ: Mapping[str, str]) -> Path | None:
    """The config file the proxy reads: the flag's, else SWITCHYARD_CONFIG's, else ./config.yaml if it exists."""
    return _config_path(from_cli, Path(environ["SWITCHYARD_CONFIG"]) if environ.get("SWITCHYARD_CONFIG") else None)


def _config_path(from_cli: str | None, from_env: Path | None) -> Path | None:
    if from_cli or from_env:
        path = Path(from_cli or from_env)  # type: ignore[arg-type]
        if not path.is_file():
            raise ConfigError(str(path), "", "config file not found")
        return path
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None


def merge_layers(
    file: Mapping[str, Any], env: EnvSettings, cli: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Merge the layers into one raw mapping, and say where each overridden top-level key came from."""
    # A section whose every line is commented out reads as null: treat it as absent.
    merged = copy.deepcopy({key: value for key, value in file.items() if value is not None})
    origins: dict[str, str] = {}
    backends = merged.setdefault("backends", {"openrouter": {"type": "openrouter"}})
    if env.openrouter_api_key and isinstance(backends, dict) and isinstance(backends.get("openrouter"), dict):
        backends["openrouter"].pop("api_keys", None)
        backends["openrouter"]["api_key"] = env.openrouter_api_key.get_secret_value()
        origins["backends.openrouter.api_key"] = "OPENROUTER_API_KEY"
    if env.api_key:
        auth = merged.setdefault("auth", {})
        if isinstance(auth, dict):
            keys = auth.get("api_keys") or []
            if any(isinstance(k, dict) and k.get("name") == ENV_KEY_NAME for k in keys):
                message = f"adds a proxy key named {ENV_KEY_NAME!r}, and auth.api_keys already has one: rename that one"
                raise ConfigError("SWITCHYARD_API_KEY", "auth.api_keys", message)
            auth["api_keys"] = [*keys, {"name": ENV_KEY_NAME, "key": env.api_key.get_secret_value()}]
            origins[f"auth.api_keys.{len(keys)}"] = "SWITCHYARD_API_KEY"
    if env.redis_url:
        redis = merged.setdefault("redis", {})
        if isinstance(redis, dict):
            merged["redis"] = {**redis, "url": env.redis_url.get_secret_value()}
            origins["redis.url"] = "SWITCHYARD_REDIS_URL"
    for name in _OVERRIDABLE:
        value = getattr(env, name)
        if value is not None:
            merged[name], origins[name] = value, f"SWITCHYARD_{name.upper()}"
        if name in cli:
            merged[name], origins[name] = cli[name], f"--{name.replace('_', '-')}"
    for flag, field in IDENTITY_FLAGS.items():
        identity = merged.setdefault("identity", {}) if flag in cli else None
        if isinstance(identity, dict):
            merged["identity"] = {k: v for k, v in identity.items() if not (field == "referer" and k == "url")}
            merged["identity"][field] = cli[flag]  # a flag is an override
            origins[f"identity.{field}"] = f"--{flag.replace('_', '-')}"
    return merged, origins


def describe(exc: ValidationError) -> list[tuple[str, str]]:
    """Each validation error as its dotted key and a one-line message."""
    return [found for error in exc.errors() for found in _described(error)]


def _described(error: Any) -> list[tuple[str, str]]:
    loc = [str(part) for part in error["loc"]]
    if len(loc) >= 3 and loc[0] == "backends" and loc[2] in BACKEND_TYPES:
        del loc[2]  # the discriminated union adds the backend type to the location
    message = _message(error)
    if error["type"] == "union_tag_invalid":
        loc.append("type")
        message = f"unknown backend type {error['input'].get('type')!r} (expected one of: {', '.join(BACKEND_TYPES)})"
    elif error["type"] == "union_tag_not_found":
        loc.append("type")
        message = f"missing (expected one of: {', '.join(BACKEND_TYPES)})"
    if error["type"] != "value_error":
        return [(".".join(loc), message)]
    found = []
    for line in message.splitlines():  # a check of the whole configuration may report several problems
        nested = re.match(r"^([\w.-]+): (.*)$", line)
        found.append((".".join([*loc, nested.group(1)]), nested.group(2)) if nested else (".".join(loc), line))
    return found


def _message(error: Mapping[str, Any]) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown key"
    if error["type"] == "missing":
        return "required key is missing"
    return str(error["msg"]).removeprefix("Value error, ")
