"""parse_params: URI parameters of a model string, validated and typed."""

from __future__ import annotations

from typing import Any

import pytest

from src.routing.params import PARAMETERS, parse_params
from src.wire.errors import InvalidRequest


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {}),
        # temperature 0..2, float
        ("temperature=0", {"temperature": 0.0}),
        ("temperature=0.7", {"temperature": 0.7}),
        ("temperature=1", {"temperature": 1.0}),
        ("temperature=2", {"temperature": 2.0}),
        ("temperature=2.0", {"temperature": 2.0}),
        # top_p 0..1, float
        ("top_p=0", {"top_p": 0.0}),
        ("top_p=0.95", {"top_p": 0.95}),
        ("top_p=1", {"top_p": 1.0}),
        # top_k int 1..2**31-1
        ("top_k=1", {"top_k": 1}),
        ("top_k=40", {"top_k": 40}),
        ("top_k=2147483647", {"top_k": 2**31 - 1}),
        # max_tokens int 1..2**31-1
        ("max_tokens=1", {"max_tokens": 1}),
        ("max_tokens=4096", {"max_tokens": 4096}),
        ("max_tokens=2147483647", {"max_tokens": 2**31 - 1}),
        # penalties -2..2, float
        ("frequency_penalty=-2", {"frequency_penalty": -2.0}),
        ("frequency_penalty=0.5", {"frequency_penalty": 0.5}),
        ("frequency_penalty=2", {"frequency_penalty": 2.0}),
        ("presence_penalty=-1.5", {"presence_penalty": -1.5}),
        ("presence_penalty=2", {"presence_penalty": 2.0}),
        # seed: a signed 64-bit int
        ("seed=0", {"seed": 0}),
        ("seed=42", {"seed": 42}),
        ("seed=-7", {"seed": -7}),
        ("seed=9223372036854775807", {"seed": 2**63 - 1}),
        ("seed=-9223372036854775808", {"seed": -(2**63)}),
        # choices
        *[(f"reasoning_effort={v}", {"reasoning_effort": v}) for v in ("none", "minimal", "low", "medium", "high", "xhigh")],
        *[(f"verbosity={v}", {"verbosity": v}) for v in ("low", "medium", "high")],
        # several at once
        (
            "temperature=0.7&top_k=40&max_tokens=100&seed=-1&verbosity=low",
            {"temperature": 0.7, "top_k": 40, "max_tokens": 100, "seed": -1, "verbosity": "low"},
        ),
        # percent-encoded values and names are decoded
        ("temperature=%30.5", {"temperature": 0.5}),
        ("seed=%2D5", {"seed": -5}),
        ("reasoning_effort=%68igh", {"reasoning_effort": "high"}),
        ("temp%65rature=1.5", {"temperature": 1.5}),
        # plain ASCII decimal forms
        ("temperature=1e0", {"temperature": 1.0}),
        ("temperature=15E-1", {"temperature": 1.5}),
        ("temperature=.5", {"temperature": 0.5}),
        ("temperature=2.", {"temperature": 2.0}),
        ("temperature=-0", {"temperature": 0.0}),
        ("frequency_penalty=-.5", {"frequency_penalty": -0.5}),
        ("seed=-5", {"seed": -5}),
        ("seed=007", {"seed": 7}),
    ],
)
def test_parse_params_valid(query: str, expected: dict[str, Any]) -> None:
    result = parse_params(query)
    assert result == expected
    for name, value in expected.items():
        assert type(result[name]) is type(value), name


@pytest.mark.parametrize(
    ("name", "type_"),
    [
        ("temperature", float),
        ("top_p", float),
        ("frequency_penalty", float),
        ("presence_penalty", float),
        ("top_k", int),
        ("max_tokens", int),
        ("seed", int),
    ],
)
def test_numeric_types(name: str, type_: type) -> None:
    # "1" is valid for every numeric parameter; it must come back as the parameter's own type.
    value = parse_params(f"{name}=1")[name]
    assert type(value) is type_
    assert value == 1


def test_supported_parameters() -> None:
    assert set(PARAMETERS) == {
        "temperature",
        "top_p",
        "top_k",
        "max_tokens",
        "frequency_penalty",
        "presence_penalty",
        "seed",
        "reasoning_effort",
        "verbosity",
    }


@pytest.mark.parametrize(
    ("query", "param"),
    [
        # unknown key
        ("temprature=1", "temprature"),
        ("stream=true", "stream"),
        ("top_k=4&foo=1", "foo"),
        # empty value / missing '='
        ("temperature=", "temperature"),
        ("temperature", "temperature"),
        ("top_k=5&seed", "seed"),
        ("verbosity=", "verbosity"),
        # duplicate key
        ("temperature=1&temperature=1", "temperature"),
        ("seed=1&top_k=2&seed=3", "seed"),
        ("temperature=1&temp%65rature=1", "temperature"),
        # out of range
        ("temperature=-0.1", "temperature"),
        ("temperature=2.01", "temperature"),
        ("temperature=3", "temperature"),
        ("top_p=1.5", "top_p"),
        ("top_p=-0.01", "top_p"),
        ("top_k=0", "top_k"),
        ("top_k=-1", "top_k"),
        ("max_tokens=0", "max_tokens"),
        ("max_tokens=-10", "max_tokens"),
        # integers past their bounds
        ("top_k=2147483648", "top_k"),
        ("top_k=99999999999999999999999", "top_k"),
        ("max_tokens=2147483648", "max_tokens"),
        ("max_tokens=4294967296", "max_tokens"),
        ("seed=9223372036854775808", "seed"),
        ("seed=-9223372036854775809", "seed"),
        ("seed=18446744073709551616", "seed"),
        ("seed=" + "9" * 5000, "seed"),
        ("frequency_penalty=-2.5", "frequency_penalty"),
        ("frequency_penalty=2.1", "frequency_penalty"),
        ("presence_penalty=-3", "presence_penalty"),
        ("presence_penalty=5", "presence_penalty"),
        # NaN / inf
        ("temperature=nan", "temperature"),
        ("temperature=NaN", "temperature"),
        ("temperature=inf", "temperature"),
        ("top_p=-inf", "top_p"),
        ("presence_penalty=infinity", "presence_penalty"),
        ("frequency_penalty=nan", "frequency_penalty"),
        # non-numeric / not an integer
        ("temperature=hot", "temperature"),
        ("top_p=0,5", "top_p"),
        ("top_k=1.5", "top_k"),
        ("top_k=ten", "top_k"),
        ("max_tokens=1e3", "max_tokens"),
        ("max_tokens=100.0", "max_tokens"),
        ("seed=abc", "seed"),
        ("seed=1.5", "seed"),
        # only plain ASCII decimals: no underscores, other scripts' digits, spaces, hex or explicit plus
        ("seed=1_0", "seed"),
        ("top_k=\u0661", "top_k"),
        ("max_tokens=\uff15", "max_tokens"),
        ("temperature= 1", "temperature"),
        ("temperature=1 ", "temperature"),
        ("temperature=%201", "temperature"),
        ("temperature=1_0", "temperature"),
        ("temperature=0x1", "temperature"),
        ("temperature=\u0661", "temperature"),
        ("temperature=+1", "temperature"),
        ("max_tokens=+5", "max_tokens"),
        ("seed=+5", "seed"),
        ("seed= 5", "seed"),
        ("seed=0x10", "seed"),
        ("top_k=1e1", "top_k"),
        ("temperature=.", "temperature"),
        ("temperature=-", "temperature"),
        ("temperature=1e", "temperature"),
        ("temperature=1.5.1", "temperature"),
        # wrong choice
        ("reasoning_effort=extreme", "reasoning_effort"),
        ("reasoning_effort=HIGH", "reasoning_effort"),
        ("verbosity=none", "verbosity"),
        ("verbosity=xhigh", "verbosity"),
        # encoded bad value
        ("temperature=%33", "temperature"),
    ],
)
def test_parse_params_invalid(query: str, param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_params(query)
    error = caught.value
    assert error.param == param
    assert error.status == 400
    assert error.error_type == "invalid_request_error"
    assert param in error.message
    assert param in str(error)


@pytest.mark.parametrize(
    ("query", "param", "bounds"),
    [
        ("top_k=2147483648", "top_k", ("1", "2147483647")),
        ("max_tokens=0", "max_tokens", ("1", "2147483647")),
        ("seed=9223372036854775808", "seed", ("-9223372036854775808", "9223372036854775807")),
    ],
)
def test_integer_bounds_are_named_in_the_message(query: str, param: str, bounds: tuple[str, str]) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_params(query)
    assert caught.value.param == param
    for bound in bounds:
        assert bound in caught.value.message
