"""The error hierarchy (src/wire/errors.py): statuses read from an upstream's `code`, and errors that
are copied, never changed, once raised."""

from __future__ import annotations

import pytest

from src.wire.errors import (
    DeadlineExceeded,
    InternalError,
    InvalidRequest,
    LimitReached,
    LoopDetected,
    ProxyError,
    UpstreamProtocolError,
    UpstreamStatusError,
    UpstreamTimeout,
    status_of,
)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (429, 429),
        ("429", 429),
        (400, 400),
        ("400", 400),
        (599, 599),
        ("503", 503),
        # not an error status
        (399, None),
        (600, None),
        ("600", None),
        (200, None),
        (-429, None),
        (0, None),
        # not a status at all
        ("server_error", None),
        ("²", None),
        ("²²²", None),  # three characters that str.isdigit accepts
        ("٤٢٩", None),  # Arabic-Indic digits
        ("4" * 5000, None),
        ("0429", None),
        (" 429", None),
        ("429 ", None),
        ("42", None),
        ("", None),
        (True, None),
        (False, None),
        (429.0, None),
        (None, None),
        ({"status": 429}, None),
        ([429], None),
    ],
)
def test_status_of(code: object, expected: int | None) -> None:
    assert status_of(code) == expected


def test_upstream_protocol_error_is_a_502() -> None:
    error = UpstreamProtocolError("local", "the model list is not JSON")
    assert error.status == 502
    assert error.message == "local: the model list is not JSON"
    assert error.backend == "local"


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (ProxyError("x"), 500),
        (ProxyError("x", status=418), 418),
        (InternalError(), 500),
        (LimitReached("x"), 429),
        (LoopDetected("x"), 508),
        (DeadlineExceeded("b", "x"), 504),
        (UpstreamStatusError("b", 503, "x"), 503),
    ],
)
def test_statuses(error: ProxyError, status: int) -> None:
    assert error.status == status


def test_internal_error_says_nothing_of_the_bug() -> None:
    assert InternalError().message == "internal error in Switchyard; the proxy's log has the details"


def original() -> UpstreamStatusError:
    return UpstreamStatusError("or", 429, "slow down", upstream_type="rate_limit_error", code="429", retry_after="7")


def state(error: ProxyError) -> dict[str, object]:
    return {**vars(error), "args": error.args, "str": str(error)}


@pytest.mark.parametrize(
    ("message", "headers", "expected_message", "expected_headers"),
    [
        (None, None, "or: slow down", {"retry-after": "7"}),
        ("or: slow down (try another model)", None, "or: slow down (try another model)", {"retry-after": "7"}),
        (None, {"x-switchyard-route": "or/m"}, "or: slow down", {"retry-after": "7", "x-switchyard-route": "or/m"}),
        ("new", {"retry-after": "9"}, "new", {"retry-after": "9"}),
    ],
)
def test_amended_is_a_copy_and_the_original_is_unchanged(
    message: str | None, headers: dict[str, str] | None, expected_message: str, expected_headers: dict[str, str]
) -> None:
    error = original()
    before = state(error)
    copy = error.amended(message, headers)
    assert copy is not error
    assert state(error) == before  # the original is unchanged
    assert type(copy) is UpstreamStatusError
    assert copy.message == expected_message
    assert str(copy) == expected_message
    assert copy.args == (expected_message,)
    assert copy.headers == expected_headers
    # everything else carried over
    assert (copy.status, copy.code, copy.error_type, copy.backend, copy.retry_after, copy.param) == (
        429, "429", "rate_limit_error", "or", "7", None,
    )


def test_the_copys_headers_are_its_own() -> None:
    error = original()
    copy = error.amended()
    copy.headers["x-more"] = "1"
    assert error.headers == {"retry-after": "7"}


def test_amended_keeps_a_class_level_status_and_raises_as_its_class() -> None:
    copy = InvalidRequest("bad", param="model").amended("worse")
    assert copy.status == 400 and copy.param == "model"
    with pytest.raises(InvalidRequest, match="worse"):
        raise copy


def test_amended_keeps_a_subclass_without_the_usual_constructor() -> None:
    copy = UpstreamTimeout("or", "slow").amended(headers={"a": "b"})
    assert isinstance(copy, UpstreamTimeout)
    assert (copy.status, copy.backend, copy.message, copy.headers) == (504, "or", "or: slow", {"a": "b"})
