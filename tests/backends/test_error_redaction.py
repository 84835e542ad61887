"""HttpBackend.status_error: an upstream's error text is masked with the backend's own keys (`backend.mask`)
before it is cut to MAX_ERROR_TEXT, so no part of a key survives the cut; a message kept whole is left
for the egress step to mask; a Retry-After that cannot be re-sent as a header is dropped."""

from __future__ import annotations

import httpx
import pytest

from src.backends.http import MAX_ERROR_TEXT
from src.backends.openai import OpenAIBackend
from src.config import Identity, OpenAIBackendConfig
from src.wire.errors import UpstreamStatusError
from src.wire.redaction import MASK
from tests.backends.calls import send
from tests.backends.openrouter_helpers import BODY, CHAT_URL, MODELS_URL, NAME, make_backend
from tests.fakes.httpx_transport import HttpxTransport

pytestmark = pytest.mark.anyio

KEY = "sk-or-v1-" + "0123456789abcdef" * 3
OTHER_KEY = "sk-or-v1-" + "fedcba9876543210" * 3
OPENAI_BASE = "http://llm.test:8080/v1"


def assert_no_part_of(key: str, message: str) -> None:
    # Any prefix of 8 or more characters would give away most of a key.
    assert key[:8] not in message
    for length in range(8, len(key) + 1):
        assert key[:length] not in message, length


async def status_error(router, backend, status: int, url: str = CHAT_URL, **respond) -> UpstreamStatusError:
    router.post(url).respond(status, **respond)
    with pytest.raises(UpstreamStatusError) as info:
        await send(backend, BODY)
    return info.value


def openai_backend(key: str) -> OpenAIBackend:
    config = OpenAIBackendConfig(type="openai", base_url=OPENAI_BASE, api_key=key)
    return OpenAIBackend("local", config, HttpxTransport(httpx.AsyncClient()), Identity())


# --- redaction before truncation -----------------------------------------------------------------------------


def test_the_key_would_straddle_the_cut() -> None:
    # The premise of the tests below: cut first, and a prefix of the key would be kept.
    assert MAX_ERROR_TEXT == 500
    assert KEY[:8] in ("A" * 484 + KEY)[:MAX_ERROR_TEXT]
    assert KEY[:8] in ("B" * 480 + KEY)[:MAX_ERROR_TEXT]


async def test_text_error_body_is_redacted_before_it_is_cut(router) -> None:
    error = await status_error(router, make_backend(api_key=KEY), 401, content=("A" * 484 + KEY).encode())
    assert error.status == 401
    assert_no_part_of(KEY, error.message)
    assert MASK in error.message
    assert "A" * 484 + MASK in error.message


@pytest.mark.parametrize("before", [470, 484, 490, 495, 499, 500])
async def test_a_key_straddling_the_cut_never_appears_half(router, before: int) -> None:
    error = await status_error(router, make_backend(api_key=KEY), 500, content=("A" * before + KEY + "Z" * 50).encode())
    assert_no_part_of(KEY, error.message)
    text = error.message.removeprefix(f"{NAME}: ")
    assert len(text) <= MAX_ERROR_TEXT
    assert text == ("A" * before + MASK + "Z" * 50)[: MAX_ERROR_TEXT - 3] + "..."


async def test_text_error_body_is_redacted_before_it_is_cut_by_an_openai_backend(router) -> None:
    url = f"{OPENAI_BASE}/chat/completions"
    error = await status_error(router, openai_backend(KEY), 401, url, content=("A" * 484 + KEY).encode())
    assert_no_part_of(KEY, error.message)
    assert "A" * 484 + MASK in error.message


async def test_openrouter_raw_provider_error_is_redacted_before_it_is_cut(router) -> None:
    body = {
        "error": {
            "message": "Provider returned error",
            "code": 401,
            "metadata": {"provider_name": "FakeProvider", "raw": "B" * 480 + KEY},
        }
    }
    error = await status_error(router, make_backend(api_key=KEY), 401, json=body)
    assert "Provider returned error" in error.message
    assert "FakeProvider" in error.message
    assert_no_part_of(KEY, error.message)
    assert "B" * 480 + MASK in error.message


async def test_every_key_of_the_rotation_is_masked(router) -> None:
    backend = make_backend(api_keys=[KEY, OTHER_KEY])
    text = f"first {KEY} second {OTHER_KEY}"
    error = await status_error(router, backend, 401, content=text.encode())  # text: clipped, so masked
    assert_no_part_of(KEY, error.message)
    assert_no_part_of(OTHER_KEY, error.message)
    assert error.message.endswith(f"first {MASK} second {MASK}")
    assert backend.mask(text) == f"first {MASK} second {MASK}"


async def test_a_json_message_quoting_the_key_is_masked_where_it_enters(router) -> None:
    """The backend masks the keys it sent in everything the upstream says, so that no log line holds them
    either; every byte a client gets is masked again on the way out (src.core.delivery)."""
    backend = make_backend(api_key=KEY)
    message = "C" * 600 + KEY + "D" * 10
    body = {"error": {"message": message, "code": "invalid_api_key"}}
    error = await status_error(router, backend, 401, json=body)
    assert error.message == f"{NAME}: {'C' * 600}[redacted]{'D' * 10}"  # whole, masked
    assert_no_part_of(KEY, error.message)
    assert error.code == "invalid_api_key"


async def test_key_in_a_model_list_error_is_masked(router) -> None:
    router.get(MODELS_URL).respond(403, content=("E" * 490 + KEY).encode())
    with pytest.raises(UpstreamStatusError) as info:
        await make_backend(api_key=KEY).list_models()
    assert_no_part_of(KEY, info.value.message)
    assert MASK in info.value.message


# --- Retry-After -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["1 \u20ac", "\u00e9", "\u0661\u0662"])
async def test_non_ascii_retry_after_is_dropped(router, value: str) -> None:
    headers = [(b"Retry-After", value.encode("utf-8"))]
    error = await status_error(router, make_backend(), 429, json={"error": {"message": "slow down"}}, headers=headers)
    assert error.status == 429
    assert error.retry_after is None
    assert error.headers == {}
    assert "slow down" in error.message


async def test_ascii_retry_after_is_kept(router) -> None:
    error = await status_error(router, make_backend(), 503, content=b"busy", headers={"Retry-After": "12"})
    assert error.retry_after == "12"
    assert error.headers == {"retry-after": "12"}
