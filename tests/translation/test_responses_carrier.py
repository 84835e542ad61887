"""The signed blob a Responses client carries back (src/translation/reasoning_carrier.py), and model families."""

from __future__ import annotations

import pytest

from src.translation.reasoning_carrier import MAX_BLOB, PREFIX, Carrier, family

DATA = {"reasoning_content": "think", "reasoning_details": [{"type": "reasoning.encrypted", "data": "x=="}]}


def test_a_sealed_blob_opens_to_its_family_and_data() -> None:
    carrier = Carrier(["secret-a", "secret-b"])
    blob = carrier.seal("reasoning", "deepseek", DATA)
    assert blob.startswith(PREFIX)
    assert "think" not in blob  # not readable as it is
    assert carrier.open(blob, "reasoning") == ("deepseek", DATA)


def test_every_worker_with_the_same_secrets_opens_it_whatever_their_order() -> None:
    blob = Carrier(["secret-a", "secret-b"]).seal("compaction", "m", {"summary": "s"})
    assert Carrier(["secret-b", "secret-a"]).open(blob, "compaction") == ("m", {"summary": "s"})


def tampered_payload(blob: str) -> str:
    payload, _, signature = blob[len(PREFIX) :].rpartition(".")
    flipped = payload[:-1] + ("A" if payload[-1] != "A" else "B")
    return PREFIX + flipped + "." + signature


@pytest.mark.parametrize(
    "blob",
    [
        Carrier(["other-secret"]).seal("reasoning", "deepseek", DATA),
        Carrier(["secret"]).seal("compaction", "deepseek", DATA),  # another kind
        tampered_payload(Carrier(["secret"]).seal("reasoning", "deepseek", DATA)),
        Carrier(["secret"]).seal("reasoning", "deepseek", DATA)[:-32] + "0" * 32,
        Carrier(["secret"]).seal("reasoning", "deepseek", DATA).removeprefix(PREFIX),
        PREFIX + "no-signature",
        PREFIX + "!!!." + "0" * 32,
        PREFIX + "x" * MAX_BLOB,
        "gAAAAABopenai-encrypted-content",
        "",
        None,
        {"k": "reasoning"},
    ],
)
def test_anything_this_proxy_did_not_seal_as_that_kind_opens_to_nothing(blob: object) -> None:
    assert Carrier(["secret"]).open(blob, "reasoning") is None


def test_a_signed_payload_that_is_not_an_object_opens_to_nothing() -> None:
    carrier = Carrier(["secret"])
    payload = "WzEsMl0"  # base64 of [1,2]
    blob = PREFIX + payload + "." + carrier._sign(payload.encode())
    assert carrier.open(blob, "reasoning") is None


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("deepseek/deepseek-r1", "deepseek"),
        ("DeepSeek/DeepSeek-V3", "deepseek"),
        ("~anthropic/claude-sonnet-latest", "anthropic"),
        ("moonshotai/kimi-k2:free", "moonshotai"),
        ("gpt-4o", "gpt-4o"),
        ("Qwen3-Coder", "qwen3-coder"),
    ],
)
def test_a_models_family_is_its_vendor(model: str, expected: str) -> None:
    assert family(model) == expected
