"""A bad configuration, reported with where it came from."""

from __future__ import annotations


class ConfigError(Exception):
    """A bad configuration. `where` names the file, variable or flag; `key` the setting."""

    def __init__(self, where: str, key: str, message: str) -> None:
        text = f"{where}: {key}: {message}" if key else f"{where}: {message}"
        super().__init__(" ".join(text.splitlines()))  # always one line
        self.where = where
        self.key = key
