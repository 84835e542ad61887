"""selectors: `a|b|c` alternatives, inline hybrids `hybrid:[r,e]?q`, and why a configured route is unusable."""

from __future__ import annotations

import pytest

from src.routing.selectors import InlineHybrid, parse_inline_hybrid, route_problem, split_alternatives
from src.wire.errors import InvalidRequest

PLAIN = ("openrouter", "local")
HYBRIDS = ("think",)


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("gpt-4o", ["gpt-4o"]),
        ("", [""]),
        ("a|b", ["a", "b"]),
        ("a|b|c", ["a", "b", "c"]),
        ("local:a?temperature=1|openrouter:b", ["local:a?temperature=1", "openrouter:b"]),
        ("a||b", ["a", "", "b"]),
        ("|a", ["", "a"]),
        ("a|", ["a", ""]),
        (" a | b ", [" a ", " b "]),  # the router strips each part
        ("hybrid:[x|y,z]", ["hybrid:[x|y,z]"]),
        ("a|hybrid:[x|y,z]?top_k=2|b", ["a", "hybrid:[x|y,z]?top_k=2", "b"]),
        ("hybrid:[a,b]|hybrid:[c,d]", ["hybrid:[a,b]", "hybrid:[c,d]"]),
        ("a]|b", ["a]", "b"]),  # a stray `]` does not make the depth negative
        ("[a|b", ["[a|b"]),  # an unclosed bracket keeps the rest together
        ("a,b", ["a,b"]),  # only `|` separates alternatives
    ],
)
def test_split_alternatives(text: str, parts: list[str]) -> None:
    assert split_alternatives(text) == parts


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("gpt-4o", None),
        ("openrouter:hybrid", None),
        ("hybrid", None),
        ("hybrid:x", None),  # a model named like the prefix, without the bracket
        ("hybrid:[local:a,openrouter:b]", InlineHybrid("local:a", "openrouter:b", "")),
        ("hybrid:[local:a, openrouter:b ]", InlineHybrid("local:a", "openrouter:b", "")),
        ("hybrid:[local:a,openrouter:b]?", InlineHybrid("local:a", "openrouter:b", "")),
        (
            "hybrid:[local:a?temperature=1,openrouter:b?top_p=0.5]?max_tokens=9&seed=1",
            InlineHybrid("local:a?temperature=1", "openrouter:b?top_p=0.5", "max_tokens=9&seed=1"),
        ),
        ("hybrid:[local:a:free,local:b]", InlineHybrid("local:a:free", "local:b", "")),
        ("hybrid:[hybrid:[a,b],c]", InlineHybrid("hybrid:[a,b]", "c", "")),  # refused later, by the router
    ],
)
def test_parse_inline_hybrid(text: str, expected: InlineHybrid | None) -> None:
    assert parse_inline_hybrid(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "hybrid:[]",
        "hybrid:[local:a]",
        "hybrid:[local:a,]",
        "hybrid:[,local:b]",
        "hybrid:[ , ]",
        "hybrid:[local:a,local:b,local:c]",
        "hybrid:[local:a,local:b",
        "hybrid:[local:a,local:b]x",
        "hybrid:[local:a,local:b]&temperature=1",
    ],
)
def test_parse_inline_hybrid_malformed(text: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_inline_hybrid(text)
    assert caught.value.param == "model"
    assert caught.value.status == 400
    assert repr(text) in caught.value.message
    assert "hybrid:[<reasoning model>,<execution model>]" in caught.value.message


UNKNOWN = "names no configured backend"

# (route, problem fragment or None)
ROUTE_CASES = [
    # fine: a backend name, a full selector, with or without parameters
    ("local", None),
    ("local:llama3:8b", None),
    ("openrouter:anthropic/claude-3-haiku:beta", None),
    ("openrouter/openai/gpt-4o", None),
    ("local?temperature=0.5", None),
    ("local:a?temperature=0.5&top_k=3", None),
    # configured hybrids need no model
    ("think", None),
    ("think?max_tokens=10", None),
    # inline hybrids whose legs name their backends
    ("hybrid:[openrouter:deepseek/deepseek-r1,local:qwen]", None),
    ("hybrid:[openrouter:r1?temperature=1,local:qwen]?max_tokens=10", None),
    # a typo must not become a model id on the default backend
    ("nope", UNKNOWN),
    ("nope:model", UNKNOWN),
    ("gpt-4o", UNKNOWN),
    ("openrouter/auto", UNKNOWN),
    ("Local:a", UNKNOWN),
    ("hybrid:[r1,local:qwen]", UNKNOWN),
    ("hybrid:[local:qwen,nope:x]", UNKNOWN),
    ("hybrid:[think,local:qwen]", UNKNOWN),  # a hybrid is no leg of a hybrid
    # malformed
    ("", "names no model"),
    ("local:", "names no model"),
    ("hybrid:[local:a]", "inline hybrid"),
    ("hybrid:[local:a,local:b", "inline hybrid"),
    # bad parameters, wherever they are
    ("local?temperature=9", "temperature"),
    ("local:a?bogus=1", "bogus"),
    ("think?top_p=2", "top_p"),
    ("hybrid:[local:a?seed=x,local:b]", "seed"),
    ("hybrid:[local:a,local:b]?temperature=-1", "temperature"),
]


@pytest.mark.parametrize(("text", "problem"), ROUTE_CASES)
def test_route_problem(text: str, problem: str | None) -> None:
    found = route_problem(text, PLAIN, HYBRIDS)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found
        assert "\n" not in found


def test_route_problem_lists_configured_backends() -> None:
    assert route_problem("nope:x", PLAIN, HYBRIDS) == (
        "'nope:x' names no configured backend (expected <backend> or <backend>:<model>; "
        "configured: local, openrouter, think)"
    )
    assert "configured: none" in (route_problem("x", (), ()) or "")


def test_route_problem_without_hybrids() -> None:
    assert UNKNOWN in (route_problem("think", PLAIN) or "")


@pytest.mark.parametrize("text", ["hybrid:[hybrid:[local:a,local:b],local:c]", "hybrid:[local:a,hybrid:[local:b,local:c]]"])
def test_route_problem_refuses_nested_inline_hybrid(text: str) -> None:
    assert route_problem(text, PLAIN, HYBRIDS) is not None
