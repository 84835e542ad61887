"""Ordered regex model aliases."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from src.routing.aliases import AliasRule, apply_aliases, check_replacement


def rules(*pairs: tuple[str, str]) -> tuple[AliasRule, ...]:
    return tuple(AliasRule(pattern=p, replacement=r) for p, r in pairs)


STANDARD = rules(
    (r"^fast$", "openrouter:openai/gpt-4o-mini?temperature=0.2"),
    (r"^gpt-4o$", "openai:gpt-4o"),
    (r"^gpt-(.*)", r"openrouter:openai/gpt-\1"),
    (r"^(?P<vendor>claude)-(?P<rest>.*)", r"openrouter:anthropic/\g<vendor>-\g<rest>"),
)


@pytest.mark.parametrize(
    ("model", "rule_set", "expected"),
    [
        # exact match
        ("fast", STANDARD, "openrouter:openai/gpt-4o-mini?temperature=0.2"),
        ("faster", STANDARD, "faster"),
        ("very-fast", STANDARD, "very-fast"),
        # first match wins: gpt-4o matches rules 2 and 3
        ("gpt-4o", STANDARD, "openai:gpt-4o"),
        # numbered group
        ("gpt-4o-mini", STANDARD, "openrouter:openai/gpt-4o-mini"),
        ("gpt-5", STANDARD, "openrouter:openai/gpt-5"),
        ("gpt-4o?temperature=0.5", STANDARD, "openrouter:openai/gpt-4o?temperature=0.5"),
        # named groups
        ("claude-3-haiku", STANDARD, "openrouter:anthropic/claude-3-haiku"),
        # no rule matches: input unchanged
        ("llama3:8b", STANDARD, "llama3:8b"),
        ("my-gpt-4o", STANDARD, "my-gpt-4o"),
        ("", STANDARD, ""),
        ("gpt-4o", (), "gpt-4o"),
        # re.match anchors at the start even without ^
        ("my-gpt-4o", rules((r"gpt-(.*)", r"x:\1")), "my-gpt-4o"),
        ("gpt-4o", rules((r"gpt-(.*)", r"x:\1")), "x:4o"),
        # the whole string is replaced, not only the matched part
        ("gpt-4o-mini", rules((r"gpt", "openai:gpt-5")), "openai:gpt-5"),
        ("gpt-4o-mini", rules((r"gpt-(\d)", r"m\1")), "m4"),
        # \g<0> is the matched part
        ("abc-rest", rules((r"abc", r"x:\g<0>")), "x:abc"),
        # no recursion: the result matches the next rule, and is left alone
        ("a", rules((r"^a$", "b"), (r"^b$", "c")), "b"),
        ("b", rules((r"^a$", "b"), (r"^b$", "c")), "c"),
        # the result would match the same rule again
        ("m", rules((r"^(.*)$", r"pre-\1")), "pre-m"),
        ("gpt-4o", rules((r"^gpt-(.*)", r"gpt-gpt-\1")), "gpt-gpt-4o"),
    ],
)
def test_apply_aliases(model: str, rule_set: tuple[AliasRule, ...], expected: str) -> None:
    assert apply_aliases(model, rule_set) == expected


@pytest.mark.parametrize(
    ("pattern", "replacement"),
    [
        (r"^gpt-(.*)", r"openrouter:openai/gpt-\1"),
        (r"^gpt-(.*)", r"openrouter:openai/gpt-\g<1>"),
        (r"^(a)(b)", r"\2\1"),
        (r"^(?P<name>.*)", r"x:\g<name>"),
        (r"^(?P<name>.*)", r"x:\1"),
        (r"^fast$", "openrouter:openai/gpt-4o-mini"),
        (r"^fast$", r"x:\g<0>"),
        (r"^fast$", r"x:\0"),
        (r"^(.)(.)(.)(.)(.)(.)(.)(.)(.)(.)(.)(.)", r"\12"),
        # an octal escape is not a group reference
        (r"^fast$", r"x:\100"),
        # an escaped backslash followed by a digit is a literal backslash and digit
        (r"^fast$", r"x\\1"),
        # ordinary escapes
        (r"^fast$", r"x\ty"),
    ],
)
def test_check_replacement_valid(pattern: str, replacement: str) -> None:
    assert check_replacement(re.compile(pattern), replacement) is None


@pytest.mark.parametrize(
    ("replacement", "expected"),
    [(r"x:\100", "x:@"), (r"x\\1", "x\\1"), (r"x:\0", "x:\x00"), (r"x\ty", "x\ty")],
)
def test_escapes_accepted_by_the_check_expand_as_re_does(replacement: str, expected: str) -> None:
    assert apply_aliases("fast", rules((r"^fast$", replacement))) == expected


@pytest.mark.parametrize(
    ("pattern", "replacement", "fragment"),
    [
        (r"^fast$", r"x:\1", "invalid group reference 1"),
        (r"^gpt-(.*)", r"openrouter:openai/gpt-\2", "invalid group reference 2"),
        (r"^(a)(b)", r"\1\2\3", "invalid group reference 3"),
        (r"^gpt-(.*)", r"x:\g<2>", "invalid group reference 2"),
        (r"^(?P<name>.*)", r"x:\g<nmae>", "unknown group name 'nmae'"),
        (r"^(.*)", r"x:\g<name>", "unknown group name 'name'"),
        # the whole template is checked, not only its group references
        (r"^fast$", r"x:\q", "bad escape \\q"),
        (r"^fast$", "x:\\", "bad escape (end of pattern)"),
        (r"^(.)", r"x:\g<1", "missing >"),
        (r"^(.)", r"x:\g<>", "missing group name"),
        (r"^fast$", r"x:\777", "octal escape value"),
    ],
)
def test_check_replacement_invalid(pattern: str, replacement: str, fragment: str) -> None:
    message = check_replacement(re.compile(pattern), replacement)
    assert isinstance(message, str)
    assert message.startswith(f"invalid replacement {replacement!r}: ")
    assert fragment in message


@pytest.mark.parametrize("pattern", ["(", "gpt-(", "[a-", "*abc", "(?P<x>a)(?P<x>b)", "a{2,1}"])
def test_alias_rule_rejects_invalid_regex(pattern: str) -> None:
    with pytest.raises(ValidationError) as caught:
        AliasRule(pattern=pattern, replacement="x")
    assert "invalid regex" in str(caught.value)


def test_alias_rule_accepts_valid_regex_and_compiles() -> None:
    rule = AliasRule(pattern=r"^gpt-(.*)", replacement=r"x:\1")
    assert rule.compiled.pattern == r"^gpt-(.*)"
    match = rule.compiled.match("gpt-4o")
    assert match is not None and match.group(1) == "4o"


def test_alias_rule_rejects_unknown_field() -> None:
    with pytest.raises(ValidationError):
        AliasRule(pattern="a", replacement="b", extra="c")  # type: ignore[call-arg]
