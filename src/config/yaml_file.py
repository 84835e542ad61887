"""The config file: YAML read strictly (a repeated key is an error), then `${VAR}` and
`${VAR:-default}` expanded from the environment, every failure a ConfigError naming the file."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from src.config.errors import ConfigError

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys; a config with both is almost surely a mistake."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *anchor` merges are resolved by the base class; own keys may override them
            key = self.construct_object(key_node, deep=deep)
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


def expand_variables(
    value: Any, environ: Mapping[str, str] | None, where: str, key: str = "", unset_ok: bool = False
) -> Any:
    """Expand `${VAR}` and `${VAR:-default}` in every string of a parsed YAML tree. `unset_ok`: an
    unset `${VAR}` is empty rather than an error (local reports, which need none of the secrets)."""
    environ = os.environ if environ is None else environ
    if isinstance(value, dict):
        return {k: expand_variables(v, environ, where, f"{key}.{k}" if key else str(k), unset_ok) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_variables(v, environ, where, f"{key}.{i}", unset_ok) for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if environ.get(name):
            return environ[name]
        if default is not None:
            return default
        if unset_ok:
            return ""
        raise ConfigError(where, key, f"environment variable {name} is not set (write ${{{name}:-}} to allow empty)")

    return _VARIABLE.sub(substitute, value)
