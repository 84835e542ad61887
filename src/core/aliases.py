"""Ordered regex model aliases: the first rule whose pattern matches rewrites the model."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cached_property

from pydantic import BaseModel, ConfigDict, field_validator

# An escaped backslash (`\\`) is consumed whole, so `\\1` is not read as a reference to group 1.
_GROUP_REF = re.compile(r"\\(?:\\|g<([^>]*)>|(\d{1,2}))")


class AliasRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    pattern: str
    replacement: str

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"invalid regex {pattern!r}: {exc}") from None
        return pattern

    @cached_property
    def compiled(self) -> re.Pattern[str]:
        return re.compile(self.pattern)


def check_replacement(pattern: re.Pattern[str], replacement: str) -> str | None:
    """Why `replacement` cannot be expanded for matches of `pattern`, or None if it can."""
    for named, numbered in _GROUP_REF.findall(replacement):
        group = named or numbered
        if not group:
            continue
        if group.isdigit():
            if int(group) > pattern.groups:
                return f"refers to group {group}, but the pattern has {pattern.groups} group(s)"
        elif group not in pattern.groupindex:
            return f"refers to unknown group {group!r}"
    return None


def apply_aliases(model: str, rules: Sequence[AliasRule]) -> str:
    """Rewrite `model` with the first matching rule; applied once, never recursively."""
    for rule in rules:
        match = rule.compiled.match(model)
        if match:
            return match.expand(rule.replacement)
    return model
