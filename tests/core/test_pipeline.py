"""parse_json_object and apply_route: the request body parsed once, and every field the proxy
does not own sent upstream exactly as the client wrote it."""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import pytest

from src.wire.errors import InvalidRequest
from src.wire.json_body import apply_route, parse_json_object
from src.routing.plan import Route

HUGE = 123456789012345678901234567890  # wider than 64 bits
MESSAGES = [{"role": "user", "content": "hi"}]


# --- parse_json_object --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"model":"m","messages":[]}', {"model": "m", "messages": []}),
        (b"{}", {}),
        (b' \n{"a": 1}\n ', {"a": 1}),
        ('{"content":"héllo ☃ 🚀"}'.encode(), {"content": "héllo ☃ 🚀"}),
        (b'{"emoji":"\\ud83d\\ude80"}', {"emoji": "🚀"}),  # a surrogate pair is one character
        (b'{"a":1,"a":2}', {"a": 2}),
        (b'{"n":18446744073709551615}', {"n": 2**64 - 1}),
        (b'{"n":-9223372036854775808}', {"n": -(2**63)}),
    ],
)
def test_parse_json_object(raw: bytes, expected: dict[str, Any]) -> None:
    assert parse_json_object(raw) == expected


@pytest.mark.parametrize(
    ("raw", "key", "value"),
    [
        (b'{"seed":%d}' % HUGE, "seed", HUGE),
        (b'{"seed":-%d}' % HUGE, "seed", -HUGE),
        (b'{"seed":18446744073709551616}', "seed", 2**64),
        (b'{"seed":-9223372036854775809}', "seed", -(2**63) - 1),
        (b'{"seed":-18446744073709551616}', "seed", -(2**64)),
        (b'{"nested":{"ids":[1,%d]}}' % HUGE, "nested", {"ids": [1, HUGE]}),
    ],
)
def test_integers_wider_than_64_bits_reach_the_upstream_exactly(raw: bytes, key: str, value: Any) -> None:
    sent = json.loads(apply_route(raw, parse_json_object(raw), Route("b", "rewritten")))
    assert sent["model"] == "rewritten"
    assert sent[key] == value
    assert isinstance(sent[key], (int, dict))


def test_a_lone_surrogate_escape_is_accepted() -> None:
    assert parse_json_object(b'{"x":"\\ud83d"}') == {"x": "\ud83d"}
    assert parse_json_object(b'{"x":"a\\udc00b","y":1}') == {"x": "a\udc00b", "y": 1}


@pytest.mark.parametrize(("literal", "check"), [(b"NaN", math.isnan), (b"Infinity", math.isinf), (b"-Infinity", math.isinf)])
def test_non_finite_numbers_are_accepted(literal: bytes, check: Any) -> None:
    body = parse_json_object(b'{"model":"m","temperature":' + literal + b"}")
    assert check(body["temperature"])


@pytest.mark.parametrize("raw", [b"[]", b'[{"model":"m"}]', b'"text"', b"42", b"null", b"true", b"[%d]" % HUGE])
def test_a_body_that_is_not_an_object_is_rejected(raw: bytes) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_json_object(raw)
    assert caught.value.status == 400
    assert "JSON object" in caught.value.message


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"   ",
        b"{",
        b'{"model":}',
        b'{"model":"m",}',
        b"{'model':'m'}",
        b'{"model":"m"} trailing',
        b'{"model":"m"}{"model":"n"}',
        b'{"x":"\xff"}',
        b"not json",
        b"[" * 100_000 + b"]" * 100_000,
        # with an integer too wide for 64 bits somewhere in it
        b'{"seed":%d,' % HUGE,
        b'{"seed":%d, "x":"\xff"}' % HUGE,
        b'{"seed":%d} trailing' % HUGE,
    ],
)
def test_invalid_json_is_a_400(raw: bytes) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_json_object(raw)
    assert caught.value.status == 400
    assert "not valid JSON" in caught.value.message


# --- apply_route ---------------------------------------------------------------------------------------


def route(model: str, **params: Any) -> Route:
    return Route("openrouter", model, params)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"model":"openai/gpt-4o",  "messages":[{"role":"user","content":"h\xc3\xa9"}]}\n',
        b'{"model":"openai/gpt-4o","seed":%d,"x":"\\ud83d"}' % HUGE,
        b'{ "messages" : [], "model" : "openai/gpt-4o", "temperature": 1.50 }',
    ],
)
def test_unchanged_model_without_params_forwards_the_clients_bytes(raw: bytes) -> None:
    body = parse_json_object(raw)
    assert apply_route(raw, body, route("openai/gpt-4o")) is raw


@pytest.mark.parametrize(
    ("sent", "resolved", "params", "expected"),
    [
        # an alias or a backend prefix resolved to another model
        ({"model": "fast", "messages": MESSAGES}, "openai/gpt-4o-mini", {}, {"model": "openai/gpt-4o-mini", "messages": MESSAGES}),
        # URI parameters set, overriding the body's own
        (
            {"model": "m", "temperature": 1.0, "messages": MESSAGES, "stream": True},
            "m",
            {"temperature": 0.2, "max_tokens": 100},
            {"model": "m", "temperature": 0.2, "max_tokens": 100, "messages": MESSAGES, "stream": True},
        ),
        # no model at all (force_model)
        ({"messages": MESSAGES}, "forced", {}, {"model": "forced", "messages": MESSAGES}),
        # fields the proxy does not know are kept
        (
            {"model": "a", "provider": {"order": ["x"]}, "tools": [{"type": "function"}], "extra": None},
            "b",
            {"seed": -1},
            {"model": "b", "provider": {"order": ["x"]}, "tools": [{"type": "function"}], "extra": None, "seed": -1},
        ),
    ],
)
def test_apply_route_sets_model_and_params_and_keeps_the_rest(
    sent: dict[str, Any], resolved: str, params: dict[str, Any], expected: dict[str, Any]
) -> None:
    raw = json.dumps(sent).encode()
    body = parse_json_object(raw)
    before = copy.deepcopy(body)
    out = apply_route(raw, body, route(resolved, **params))
    assert json.loads(out) == expected
    assert body == before  # the parsed body is not modified


@pytest.mark.parametrize(
    "raw",
    [
        b'{"model":"alias","seed":%d,"messages":[]}' % HUGE,
        b'{"model":"alias","seed":18446744073709551616}',
        b'{"model":"alias","ids":[-%d, 1, 2.5]}' % HUGE,
        b'{"model":"alias","seed":-9223372036854775809}',
        b'{"model":"alias","x":"\\ud83d","y":"caf\xc3\xa9"}',
        b'{"model":"alias","x":"\\udc00","seed":%d}' % HUGE,
        b'{"model":"alias","n":18446744073709551615,"m":-9223372036854775808}',
    ],
)
def test_apply_route_keeps_every_other_value_exactly(raw: bytes) -> None:
    body = parse_json_object(raw)
    before = copy.deepcopy(body)
    out = apply_route(raw, body, route("resolved/model", temperature=0.5))
    sent, forwarded = json.loads(raw), json.loads(out)
    assert forwarded == {**sent, "model": "resolved/model", "temperature": 0.5}
    for key, value in sent.items():
        if key != "model":
            assert type(forwarded[key]) is type(value), key
    assert body == before


def test_apply_route_keeps_nan_and_infinity() -> None:
    raw = b'{"model":"alias","a":NaN,"b":Infinity,"c":-Infinity}'
    out = apply_route(raw, parse_json_object(raw), route("resolved"))
    forwarded = json.loads(out)
    assert forwarded["model"] == "resolved"
    assert math.isnan(forwarded["a"])
    assert (forwarded["b"], forwarded["c"]) == (math.inf, -math.inf)


@pytest.mark.parametrize("depth", [10, 300])
def test_apply_route_keeps_deeply_nested_values(depth: int) -> None:
    raw = b'{"model":"alias","x":' + b"[" * depth + b"]" * depth + b"}"
    body = parse_json_object(raw)
    out = apply_route(raw, body, route("resolved"))
    assert out == raw.replace(b'"alias"', b'"resolved"')
