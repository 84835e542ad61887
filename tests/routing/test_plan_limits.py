"""Router.plan's limits: a model string of at most MAX_MODEL_BYTES, of at most MAX_ALTERNATIVES alternatives
(after aliases); the failover routes of every alternative come on top of them."""

from __future__ import annotations

import pytest

from src.routing.aliases import AliasRule
from src.routing.plan import MAX_ALTERNATIVES, MAX_MODEL_BYTES, Router
from src.wire.errors import InvalidRequest

BACKENDS = frozenset({"local", "vllm", "openrouter"})


def router(
    aliases: tuple[AliasRule, ...] = (),
    fallbacks: dict[str, tuple[str, ...]] | None = None,
    force_model: str | None = None,
) -> Router:
    return Router.build(
        default_backend="local", backends=BACKENDS, aliases=aliases, fallbacks=fallbacks or {}, force_model=force_model
    )


def alternatives(count: int, prefix: str = "m") -> str:
    return "|".join(f"{prefix}{number}" for number in range(count))


TEN = AliasRule(pattern=r"^ten$", replacement=alternatives(10, "t"))
EIGHT = AliasRule(pattern=r"^eight$", replacement=alternatives(8, "e"))
SEVENTEEN = AliasRule(pattern=r"^many$", replacement=alternatives(17, "x"))


def test_the_limits() -> None:
    assert (MAX_MODEL_BYTES, MAX_ALTERNATIVES) == (1024, 16)


@pytest.mark.parametrize(
    ("r", "requested", "count"),
    [
        (router(), alternatives(16), 16),
        (router(), "|".join(["local:a"] * 16), 1),
        (router(aliases=(EIGHT,)), "eight|eight", 8),
        (router(aliases=(EIGHT,)), "eight|" + alternatives(8), 16),
        (router(aliases=(TEN,)), "ten|" + alternatives(6), 16),
        (router(force_model=alternatives(16)), "x", 16),
    ],
    ids=["16 written", "16 equal", "8 + the same 8", "8 + 8 after aliases", "10 + 6 after aliases", "forced"],
)
def test_up_to_16_alternatives_are_planned(r: Router, requested: str, count: int) -> None:
    assert len(r.plan(requested)) == count


@pytest.mark.parametrize(
    ("r", "requested"),
    [
        (router(), alternatives(17)),
        (router(), alternatives(100)),
        (router(), "|".join(["local:a"] * 17)),
        (router(), "m|" * 16 + "m"),
        (router(aliases=(SEVENTEEN,)), "many"),
        (router(aliases=(TEN,)), "ten|" + alternatives(7)),
        (router(aliases=(TEN,)), "ten|ten"),
        (router(force_model=alternatives(17)), "x"),
    ],
    ids=["17 written", "100 written", "17 equal", "17 bare", "one alias to 17", "10 + 7", "10 + 10", "forced"],
)
def test_more_than_16_alternatives_are_refused_naming_the_limit(r: Router, requested: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        r.plan(requested)
    assert (caught.value.status, caught.value.param) == (400, "model")
    assert f"more than {MAX_ALTERNATIVES} alternatives" in caught.value.message


@pytest.mark.parametrize(
    "requested",
    [
        "m" * 1024,
        "local:" + "m" * 1018,
        "é" * 512,  # 1024 bytes in UTF-8
        "m" * 1000 + "?temperature=0.5",
    ],
    ids=["1024 ascii", "1024 with backend", "1024 bytes of 512 characters", "1016 with params"],
)
def test_a_model_string_of_1_kib_is_planned(requested: str) -> None:
    assert len(requested.encode()) <= MAX_MODEL_BYTES
    assert len(router().plan(requested)) == 1


@pytest.mark.parametrize(
    "requested",
    [
        "m" * 1025,
        "m" * 1_000_000,
        "é" * 513,  # 513 characters, 1026 bytes
        "\U0001f600" * 257,  # 257 characters, 1028 bytes
        "\ud800" * 342,  # a lone surrogate counts as the 3 bytes it would take
        "local:" + "m" * 1019,
        alternatives(3) + "|" + "m" * 1020,
    ],
    ids=["1025 ascii", "a million", "513 two-byte", "257 four-byte", "342 surrogates", "with backend", "alternatives"],
)
def test_a_model_string_over_1_kib_is_refused(requested: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        router().plan(requested)
    assert (caught.value.status, caught.value.param) == (400, "model")
    assert f"longer than {MAX_MODEL_BYTES} bytes" in caught.value.message


def test_16_alternatives_each_with_failover_routes() -> None:
    r = router(fallbacks={"local": ("vllm", "openrouter:shared"), "default": ("vllm:last",)})
    plan = r.plan("|".join(f"local:m{n}" for n in range(16)))
    labels = [str(route) for route in plan]
    written = [f"local:m{n}" for n in range(16)]
    assert labels == [*written, "vllm:m0", "openrouter:shared", *(f"vllm:m{n}" for n in range(1, 16))]
    assert len(plan) == len(set(plan)) == 33


def test_16_alternatives_of_several_backends_with_failover_routes() -> None:
    r = router(fallbacks={"vllm": ("local",), "default": ("openrouter:x",)})
    written = [f"{'vllm' if n % 2 else 'local'}:m{n}" for n in range(16)]
    plan = r.plan("|".join(written))
    fallbacks = ["openrouter:x" if n == 0 else f"local:m{n}" for n in range(16) if n == 0 or n % 2]
    assert [str(route) for route in plan] == [*written, *fallbacks]
