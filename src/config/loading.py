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

import yaml
from pydantic import AliasChoices, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings.sources.utils import parse_env_vars

from src.config.backends import BACKEND_TYPES
from src.config.errors import ConfigError, Problem
from src.config.schema import DEFAULT_DATABASE, Config

DEFAULT_CONFIG_FILE = Path("config.yaml")
ENV_KEY_NAME = "default"  # the name SWITCHYARD_API_KEY gets among the proxy keys
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
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
    openrouter_api_key: SecretStr | None = Field(None, validation_alias=AliasChoices("OPENROUTER_API_KEY"))

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource, **_: PydanticBaseSettingsSource
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
    `keys_required=False` accepts an OpenRouter backend without a key (local reports need none).
    """
    cli = {k: v for k, v in (cli or {}).items() if v is not None}
    env, problems = _read_env(os.environ if environ is None else environ)
    path = _config_path(cli.get("config"), env.config if env else None)
    where = str(path) if path else "built-in defaults"
    raw = expand_variables(read_yaml(path), environ, where) if path else {}
    merged, origins = merge_layers(raw, env or EnvSettings(), cli)
    try:
        config = Config.model_validate(_anchored(merged, path), context={"keys_required": keys_required})
        found = check(config) if check and not problems else None
        problems += [(_blame(origins, found[0], where), *found)] if found else []
    except ValidationError as exc:
        problems += [(_blame(origins, key, where), key, message) for key, message in describe(exc)]
    if problems:
        raise ConfigError.of(problems)
    return config


def _blame(origins: Mapping[str, str], key: str, where: str) -> str:
    """The flag or variable that set `key` (the most specific one that did), else the file."""
    for prefix in sorted(origins, key=len, reverse=True):
        if key == prefix or key.startswith(prefix + "."):
            return origins[prefix]
    return where


def _anchored(merged: dict[str, Any], path: Path | None) -> dict[str, Any]:
    """A relative usage database lies beside the config file that names it, wherever the proxy is started."""
    usage = merged.get("usage") if isinstance(merged.get("usage"), dict) else {}
    database = usage.get("database", DEFAULT_DATABASE) if "usage" in merged else DEFAULT_DATABASE
    if path is None or not isinstance(database, str) or Path(database).is_absolute() or "://" in database:
        return merged
    return {**merged, "usage": {**usage, "database": str(path.resolve().parent / database)}}


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


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys; a config with both is almost surely a mistake."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *anchor` merges are resolved by the base class; own keys may override them
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        position = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(str(path), position, f"malformed YAML: {problem}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), "", f"cannot read: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(str(path), "", "the top level must be a mapping of keys")
    return data


def expand_variables(value: Any, environ: Mapping[str, str] | None, where: str, key: str = "") -> Any:
    """Expand `${VAR}` and `${VAR:-default}` in every string of a parsed YAML tree."""
    environ = os.environ if environ is None else environ
    if isinstance(value, dict):
        return {k: expand_variables(v, environ, where, f"{key}.{k}" if key else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_variables(v, environ, where, f"{key}.{i}") for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if environ.get(name):
            return environ[name]
        if default is not None:
            return default
        raise ConfigError(where, key, f"environment variable {name} is not set (write ${{{name}:-}} to allow empty)")

    return _VARIABLE.sub(substitute, value)


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
