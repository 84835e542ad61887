"""Route: a value (hashable, equal by backend, model, parameters and legs), its label and its answerer."""

from __future__ import annotations

from typing import Any

import pytest

from src.routing.plan import Route, Router, composite_route

R1 = Route("openrouter", "deepseek/deepseek-r1")
THINK_LABEL = "think:[openrouter:deepseek/deepseek-r1,local:qwen?temperature=0.2]"
QWEN = Route("local", "qwen", {"temperature": 0.2})
ROUTER = Router.build(
    composite_legs={
        "think": ("openrouter:deepseek/deepseek-r1", "local:qwen?temperature=0.2"),
        "plain": ("local:a", "vllm:b"),
    },
    default_backend="openrouter",
    backends=frozenset({"openrouter", "local", "vllm", "think", "plain"}),
)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (Route("local", "m"), Route("local", "m")),
        (Route("local", "m"), Route("local", "m", {})),
        (Route("local", "m", {"temperature": 0.5, "top_k": 3}), Route("local", "m", {"top_k": 3, "temperature": 0.5})),
        (
            composite_route("think", (R1, QWEN)),
            composite_route(
                "think", (Route("openrouter", "deepseek/deepseek-r1"), Route("local", "qwen", {"temperature": 0.2}))
            ),
        ),
        (ROUTER.plan("local:m?top_k=3")[0], Route("local", "m", {"top_k": 3})),
        (ROUTER.plan("think?max_tokens=5")[0], composite_route("think", (R1, QWEN), {"max_tokens": 5})),
    ],
)
def test_equal_routes_hash_alike(a: Route, b: Route) -> None:
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b}) == 1
    assert {a: 1}[b] == 1


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (Route("local", "m"), Route("vllm", "m")),
        (Route("local", "m"), Route("local", "n")),
        (Route("local", "m"), Route("local", "m", {"temperature": 0.5})),
        (Route("local", "m", {"temperature": 0.5}), Route("local", "m", {"temperature": 0.6})),
        (Route("local", "m", {"top_k": 3}), Route("local", "m", {"seed": 3})),
        (composite_route("think", (R1, QWEN)), composite_route("think", (R1, QWEN), {"max_tokens": 5})),
        (composite_route("think", (R1, QWEN)), composite_route("think", (R1, Route("local", "qwen")))),
        (composite_route("think", (R1, QWEN)), composite_route("think", (QWEN, R1))),
        # a composite and a plain route written alike are still different routes
        (composite_route("think", (R1, QWEN)), Route("think", "[openrouter:deepseek/deepseek-r1,local:qwen]")),
    ],
)
def test_different_routes_are_not_equal(a: Route, b: Route) -> None:
    assert a != b
    assert len({a, b}) == 2


def test_a_route_is_not_equal_to_its_text() -> None:
    assert Route("local", "m") != "local:m"


def test_a_route_cannot_change() -> None:
    route = Route("local", "m")
    with pytest.raises(AttributeError):
        route.model = "n"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        ("local:a|vllm:b|local:a", ["local:a", "vllm:b"]),
        ("local:a|vllm:b|local:a|openrouter:c|vllm:b", ["local:a", "vllm:b", "openrouter:c"]),
        ("vllm:b|local:a|vllm:b", ["vllm:b", "local:a"]),
        ("local:a?top_k=1&seed=2|local:a?seed=2&top_k=1", ["local:a?top_k=1&seed=2"]),
        ("local:a?top_k=1|local:a|local:a?top_k=1", ["local:a?top_k=1", "local:a"]),
        ("think|think|plain|think", [THINK_LABEL, "plain:[local:a,vllm:b]"]),
        ("hybrid:[local:a,vllm:b]|hybrid:[ local:a , vllm:b ]", ["hybrid:[local:a,vllm:b]"]),
    ],
)
def test_a_plan_holds_each_route_once_in_first_seen_order(requested: str, expected: list[str]) -> None:
    assert [route.label for route in ROUTER.plan(requested)] == expected


@pytest.mark.parametrize(
    ("route", "label"),
    [
        (Route("local", "qwen"), "local:qwen"),
        (Route("local", "qwen", {"temperature": 0.2}), "local:qwen?temperature=0.2"),
        (Route("local", "q", {"temperature": 0.2, "top_k": 4, "seed": -1}), "local:q?temperature=0.2&top_k=4&seed=-1"),
        (Route("local", "q", {"reasoning_effort": "high"}), "local:q?reasoning_effort=high"),
        (Route("local", "q", {"verbosity": "a&b=c d"}), "local:q?verbosity=a%26b%3Dc%20d"),  # values are escaped
        (Route("openrouter", "anthropic/claude-3-haiku:beta"), "openrouter:anthropic/claude-3-haiku:beta"),
        # a composite's legs keep their parameters, and the composite its own
        (composite_route("think", (R1, QWEN)), "think:[openrouter:deepseek/deepseek-r1,local:qwen?temperature=0.2]"),
        (
            composite_route("think", (R1, QWEN), {"max_tokens": 9}),
            "think:[openrouter:deepseek/deepseek-r1,local:qwen?temperature=0.2]?max_tokens=9",
        ),
        (
            ROUTER.plan("hybrid:[local:a?top_p=0.5,vllm:b?seed=3]?max_tokens=9")[0],
            "hybrid:[local:a?top_p=0.5,vllm:b?seed=3]?max_tokens=9",
        ),
        (ROUTER.plan("plain?temperature=1")[0], "plain:[local:a,vllm:b]?temperature=1.0"),
    ],
)
def test_label_keeps_uri_parameters(route: Route, label: str) -> None:
    assert route.label == label


def test_str_leaves_the_parameters_out() -> None:
    route = composite_route("think", (R1, QWEN), {"max_tokens": 9})
    assert str(route) == "think:[openrouter:deepseek/deepseek-r1,local:qwen]"
    assert str(QWEN) == "local:qwen"


@pytest.mark.parametrize(
    "requested",
    [
        "local:m",
        "local:m?temperature=0.5&top_k=3",
        "openrouter:qwen/qwen3-coder:free?seed=-1",
        "vllm:m?reasoning_effort=high",
        "hybrid:[local:a?top_p=0.5,vllm:b]?max_tokens=9",
        "plain?temperature=0.7",
    ],
)
def test_a_label_plans_the_same_route(requested: str) -> None:
    route = ROUTER.plan(requested)[0]
    assert ROUTER.plan(route.label)[0] == route


def test_the_label_of_a_configured_composite_with_leg_parameters_plans_the_same_route() -> None:
    route = ROUTER.plan("think?max_tokens=5")[0]
    assert ROUTER.plan(route.label)[0] == route


@pytest.mark.parametrize(
    ("route", "answerer"),
    [
        (QWEN, QWEN),
        (composite_route("think", (R1, QWEN), {"max_tokens": 9}), QWEN),
        (ROUTER.plan("hybrid:[local:a,vllm:b?seed=3]")[0], Route("vllm", "b", {"seed": 3})),
    ],
)
def test_the_answerer_is_the_last_leg(route: Route, answerer: Route) -> None:
    assert route.answerer == answerer


def test_composite_route_names_its_legs() -> None:
    legs: tuple[Route, ...] = (R1, QWEN)
    route = composite_route("think", legs, {"max_tokens": 9})
    expected: dict[str, Any] = {"max_tokens": 9}
    assert (route.backend, route.model, dict(route.params), route.legs) == (
        "think",
        "[openrouter:deepseek/deepseek-r1,local:qwen]",
        expected,
        legs,
    )
