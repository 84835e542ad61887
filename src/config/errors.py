"""A bad configuration, reported with where it came from: every problem at once, one line each."""

from __future__ import annotations

from collections.abc import Sequence

Problem = tuple[str, str, str]  # where (file, variable or flag), key, message


class ConfigError(Exception):
    """A bad configuration. `where` names the file, variable or flag; `key` the setting; `problems`
    holds every problem found, the first of which gives `where` and `key`."""

    def __init__(self, where: str, key: str, message: str) -> None:
        self.problems: list[Problem] = [(where, key, message)]
        self.where, self.key = where, key
        super().__init__(_line(where, key, message))

    @classmethod
    def of(cls, problems: Sequence[Problem]) -> ConfigError:
        error = cls(*problems[0])
        error.problems = list(problems)
        error.args = ("\n".join(_line(*problem) for problem in problems),)
        return error


def _line(where: str, key: str, message: str) -> str:
    text = f"{where}: {key}: {message}" if key else f"{where}: {message}"
    return " ".join(text.splitlines())  # a problem is always one line
