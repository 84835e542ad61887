"""ProxyKeys: Bearer or x-api-key, checked against the configured proxy keys."""

from __future__ import annotations

import pytest
from starlette.datastructures import Headers

from src.core.auth import ProxyKeys
from src.wire.errors import AuthenticationFailed

KEYS = {"alice": "sk-alice-0123456789", "bob": "sk-bob-9876543210"}


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Authorization": "Bearer sk-alice-0123456789"}, "alice"),
        ({"Authorization": "Bearer sk-bob-9876543210"}, "bob"),
        ({"authorization": "bearer sk-alice-0123456789"}, "alice"),
        ({"AUTHORIZATION": "BEARER sk-bob-9876543210"}, "bob"),
        ({"Authorization": "BeArEr sk-alice-0123456789"}, "alice"),
        ({"Authorization": "Bearer  sk-alice-0123456789 "}, "alice"),
        ({"x-api-key": "sk-alice-0123456789"}, "alice"),
        ({"X-Api-Key": "sk-bob-9876543210"}, "bob"),
        ({"X-API-KEY": " sk-bob-9876543210 "}, "bob"),
        # an empty bearer token or another scheme falls back to x-api-key
        ({"Authorization": "Bearer ", "x-api-key": "sk-bob-9876543210"}, "bob"),
        ({"Authorization": "Basic c2stYWxpY2U=", "x-api-key": "sk-alice-0123456789"}, "alice"),
    ],
)
def test_authenticate_accepts(headers: dict[str, str], expected: str) -> None:
    assert ProxyKeys(KEYS).authenticate(Headers(headers)) == expected


@pytest.mark.parametrize(
    ("headers", "presented", "reason"),
    [
        # missing
        ({}, None, "missing"),
        ({"Content-Type": "application/json"}, None, "missing"),
        ({"Authorization": ""}, None, "missing"),
        ({"x-api-key": ""}, None, "missing"),
        ({"x-api-key": "   "}, None, "missing"),
        # empty bearer token
        ({"Authorization": "Bearer"}, None, "missing"),
        ({"Authorization": "Bearer "}, None, "missing"),
        ({"Authorization": "Bearer    "}, None, "missing"),
        # not a bearer scheme
        ({"Authorization": "Basic sk-alice-0123456789"}, None, "missing"),
        ({"Authorization": "sk-alice-0123456789"}, None, "missing"),
        # wrong key
        ({"Authorization": "Bearer sk-wrong-key-ABCDEF"}, "sk-wrong-key-ABCDEF", "invalid"),
        ({"x-api-key": "sk-wrong-key-ABCDEF"}, "sk-wrong-key-ABCDEF", "invalid"),
        ({"Authorization": "Bearer sk-alice-012345678"}, "sk-alice-012345678", "invalid"),
        ({"Authorization": "Bearer sk-alice-0123456789X"}, "sk-alice-0123456789X", "invalid"),
        ({"Authorization": "Bearer SK-ALICE-0123456789"}, "SK-ALICE-0123456789", "invalid"),
        ({"x-api-key": "alice"}, "alice", "invalid"),
    ],
)
def test_authenticate_rejects(headers: dict[str, str], presented: str | None, reason: str) -> None:
    with pytest.raises(AuthenticationFailed) as caught:
        ProxyKeys(KEYS).authenticate(Headers(headers))
    error = caught.value
    assert error.status == 401
    assert error.code == "invalid_api_key"
    assert error.error_type == "authentication_error"
    assert reason in error.message
    if presented is not None:
        assert presented not in error.message
        assert presented not in str(error)
        assert presented not in repr(error)
    for key in KEYS.values():
        assert key not in str(error)


def test_no_configured_keys_rejects_everything() -> None:
    with pytest.raises(AuthenticationFailed):
        ProxyKeys({}).authenticate(Headers({"Authorization": "Bearer anything"}))


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer sk-wrong"}, {"x-api-key": "sk-alice-0123456789"}],
)
def test_disabled_is_anonymous(headers: dict[str, str]) -> None:
    assert ProxyKeys(KEYS, disabled=True).authenticate(Headers(headers)) == "anonymous"
    assert ProxyKeys({}, disabled=True).authenticate(Headers(headers)) == "anonymous"


def test_plain_dict_headers_lowercase() -> None:
    assert ProxyKeys(KEYS).authenticate({"authorization": "Bearer sk-bob-9876543210"}) == "bob"
    assert ProxyKeys(KEYS).authenticate({"x-api-key": "sk-alice-0123456789"}) == "alice"
