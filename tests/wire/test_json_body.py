"""parse_json_object, rewrite and dumps: the request body parsed once, every field the proxy does not
own sent upstream exactly as the client wrote it, and nesting too deep a 400, never a crash."""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import pytest

from src.wire.errors import InvalidRequest
from src.wire.json_body import dumps, parse_json_object, rewrite

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
    sent = json.loads(rewrite(raw, parse_json_object(raw), {"model": "rewritten"}))
    assert sent["model"] == "rewritten"
    assert sent[key] == value
    assert isinstance(sent[key], (int, dict))


def test_a_lone_surrogate_escape_is_accepted() -> None:
    assert parse_json_object(b'{"x":"\\ud83d"}') == {"x": "\ud83d"}
    assert parse_json_object(b'{"x":"a\\udc00b","y":1}') == {"x": "a\udc00b", "y": 1}


@pytest.mark.parametrize(
    ("literal", "check"), [(b"NaN", math.isnan), (b"Infinity", math.isinf), (b"-Infinity", math.isinf)]
)
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


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"x":' + b'{"y":' * 5_000 + b"1" + b"}" * 5_000 + b"}",
    ],
)
def test_nesting_too_deep_is_a_400(raw: bytes) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_json_object(raw)
    assert caught.value.status == 400
    assert "nested too deeply" in caught.value.message


# --- rewrite -------------------------------------------------------------------------------------------


def route(model: str, **params: Any) -> dict[str, Any]:
    """The changes a route makes: its model, and its URI parameters."""
    return {"model": model, **params}


@pytest.mark.parametrize(
    "raw",
    [
        b'{"model":"openai/gpt-4o",  "messages":[{"role":"user","content":"h\xc3\xa9"}]}\n',
        b'{"model":"openai/gpt-4o","seed":%d,"x":"\\ud83d"}' % HUGE,
        b'{ "messages" : [], "model" : "openai/gpt-4o", "temperature": 1.50 }',
    ],
)
def test_no_changes_forwards_the_clients_bytes(raw: bytes) -> None:
    # (A route with the body's own model and no parameters makes no changes: `Call.body_for`.)
    body = parse_json_object(raw)
    assert rewrite(raw, body, {}) is raw


@pytest.mark.parametrize(
    ("sent", "resolved", "params", "expected"),
    [
        # an alias or a backend prefix resolved to another model
        (
            {"model": "fast", "messages": MESSAGES},
            "openai/gpt-4o-mini",
            {},
            {"model": "openai/gpt-4o-mini", "messages": MESSAGES},
        ),
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
def test_rewrite_sets_model_and_params_and_keeps_the_rest(
    sent: dict[str, Any], resolved: str, params: dict[str, Any], expected: dict[str, Any]
) -> None:
    raw = json.dumps(sent).encode()
    body = parse_json_object(raw)
    before = copy.deepcopy(body)
    out = rewrite(raw, body, route(resolved, **params))
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
def test_rewrite_keeps_every_other_value_exactly(raw: bytes) -> None:
    body = parse_json_object(raw)
    before = copy.deepcopy(body)
    out = rewrite(raw, body, route("resolved/model", temperature=0.5))
    sent, forwarded = json.loads(raw), json.loads(out)
    assert forwarded == {**sent, "model": "resolved/model", "temperature": 0.5}
    for key, value in sent.items():
        if key != "model":
            assert type(forwarded[key]) is type(value), key
    assert body == before


def test_rewrite_keeps_nan_and_infinity() -> None:
    raw = b'{"model":"alias","a":NaN,"b":Infinity,"c":-Infinity}'
    out = rewrite(raw, parse_json_object(raw), route("resolved"))
    forwarded = json.loads(out)
    assert forwarded["model"] == "resolved"
    assert math.isnan(forwarded["a"])
    assert (forwarded["b"], forwarded["c"]) == (math.inf, -math.inf)


@pytest.mark.parametrize("depth", [10, 300, 600])  # past orjson's depth limit for writing (255)
def test_rewrite_keeps_deeply_nested_values(depth: int) -> None:
    raw = b'{"model":"alias","x":' + b"[" * depth + b"]" * depth + b"}"
    body = parse_json_object(raw)
    out = rewrite(raw, body, route("resolved"))
    assert out == raw.replace(b'"alias"', b'"resolved"')


@pytest.mark.parametrize(
    "changes",
    [{"model": "resolved"}, {"model": "resolved", "temperature": 0.5}, {"stream": True}],
)
def test_a_rewritten_body_parses_back_to_the_body_with_the_changes(changes: dict[str, Any]) -> None:
    raw = b'{"model":"alias","messages":[{"role":"user","content":"caf\xc3\xa9 \\ud83d\\ude80"}],"stream":false}'
    body = parse_json_object(raw)
    assert parse_json_object(rewrite(raw, body, changes)) == {**body, **changes}


# --- dumps ---------------------------------------------------------------------------------------------


def nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    "value",
    [
        {"model": "m", "messages": MESSAGES},
        {"text": "héllo ☃ 🚀", "n": 2**63 - 1, "f": 1.5, "none": None, "flag": True},
        {"x": nested(10)},
        {"x": nested(300)},  # past orjson's depth limit: the standard library writes it
        [],
    ],
)
def test_dumps_writes_json_that_reads_back(value: Any) -> None:
    assert json.loads(dumps(value)) == value


def test_dumps_is_compact() -> None:
    assert dumps({"a": [1, 2], "b": {"c": None}}) == b'{"a":[1,2],"b":{"c":null}}'


@pytest.mark.parametrize("depth", [2_000, 100_000])
def test_dumps_nesting_too_deep_is_a_400_not_a_crash(depth: int) -> None:
    with pytest.raises(InvalidRequest) as caught:
        dumps({"model": "m", "x": nested(depth)})
    assert caught.value.status == 400
    assert "nested too deeply" in caught.value.message


@pytest.mark.parametrize("value", [{"x": {1, 2}}, {"x": object()}, {"x": b"bytes"}])
def test_dumps_of_what_json_cannot_hold_is_a_400(value: Any) -> None:
    with pytest.raises(InvalidRequest) as caught:
        dumps(value)
    assert caught.value.status == 400
    assert "cannot be written as JSON" in caught.value.message
