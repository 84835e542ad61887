"""Redactor and RedactingFilter: secrets never reach a log line."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from src.wire.redaction import MASK, RedactingFilter, Redactor

SECRET = "sk-or-v1-abcdef0123456789"


@pytest.mark.parametrize(
    ("secrets", "text", "expected"),
    [
        # no secrets in the text: unchanged
        ([SECRET], "nothing to hide here", "nothing to hide here"),
        ([SECRET], "", ""),
        ([], "sk-or-v1-abcdef0123456789", "sk-or-v1-abcdef0123456789"),
        ([""], "text stays", "text stays"),
        ([SECRET], "sk-or-v1-abcdef012345678", "sk-or-v1-abcdef012345678"),
        # every occurrence of every secret
        ([SECRET], f"key={SECRET}", f"key={MASK}"),
        ([SECRET], f"{SECRET} and {SECRET}", f"{MASK} and {MASK}"),
        (["aaa", "bbb"], "aaa-bbb-ccc", f"{MASK}-{MASK}-ccc"),
        (["tok1", "tok2", ""], "Bearer tok1; x-api-key: tok2", f"Bearer {MASK}; x-api-key: {MASK}"),
        # longest first: a key containing another is masked whole
        (["abc", "abcdef"], "xx abcdef yy abc", f"xx {MASK} yy {MASK}"),
        (["abcdef", "abc"], "xx abcdef yy", f"xx {MASK} yy"),
        (["sk-1", "sk-1234"], "sk-1234 sk-1", f"{MASK} {MASK}"),
        # overlapping secrets: the longer one goes first, what is left holds neither
        (["sk-123456", "3456789"], "sk-123456789", f"{MASK}789"),
        (["sk-123", "23456789"], "sk-123456789", f"sk-1{MASK}"),
        # duplicate secrets
        ([SECRET, SECRET], f"a {SECRET} b", f"a {MASK} b"),
    ],
)
def test_redactor(secrets: list[str], text: str, expected: str) -> None:
    result = Redactor(secrets)(text)
    assert result == expected
    for secret in secrets:
        if secret:
            assert secret not in result


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactingFilter(Redactor([SECRET, "hunter2"])))
    logger = logging.getLogger("switchyard.tests.redaction")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(handler)
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)
        handler.close()


@pytest.mark.parametrize(
    ("msg", "args", "expected"),
    [
        (f"upstream key is {SECRET}", (), f"INFO upstream key is {MASK}\n"),
        ("upstream key is %s", (SECRET,), f"INFO upstream key is {MASK}\n"),
        ("keys %s and %s", (SECRET, "hunter2"), f"INFO keys {MASK} and {MASK}\n"),
        ("header %r", ({"authorization": f"Bearer {SECRET}"},), f"INFO header {{'authorization': 'Bearer {MASK}'}}\n"),
        # the secret is only whole once the args are substituted
        ("%s%s", ("sk-or-v1-abcdef", "0123456789"), f"INFO {MASK}\n"),
        ("%(name)s=%(key)s", ({"name": "key", "key": SECRET},), f"INFO key={MASK}\n"),
        ("no secret %d", (42,), "INFO no secret 42\n"),
    ],
)
def test_filter_masks_message_and_args(
    captured: tuple[logging.Logger, io.StringIO], msg: str, args: tuple[object, ...], expected: str
) -> None:
    logger, stream = captured
    logger.info(msg, *args)
    output = stream.getvalue()
    assert output == expected
    assert SECRET not in output
    assert "hunter2" not in output


def test_filter_masks_exception_text(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    try:
        raise RuntimeError(f"upstream rejected key {SECRET}")
    except RuntimeError:
        logger.exception("request failed with %s", "hunter2")
    output = stream.getvalue()
    assert SECRET not in output
    assert "hunter2" not in output
    assert output.startswith(f"ERROR request failed with {MASK}\n")
    assert "Traceback (most recent call last)" in output
    assert f"RuntimeError: upstream rejected key {MASK}" in output


def test_filter_masks_preformatted_exception_text(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    record = logger.makeRecord(logger.name, logging.WARNING, __file__, 1, "oops", (), None)
    record.exc_text = f"Traceback...\nValueError: {SECRET}"
    logger.handle(record)
    output = stream.getvalue()
    assert SECRET not in output
    assert f"ValueError: {MASK}" in output


def test_filter_keeps_every_record(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    redacting = RedactingFilter(Redactor([SECRET]))
    record = logger.makeRecord(logger.name, logging.INFO, __file__, 1, "key %s", (SECRET,), None)
    assert redacting.filter(record) is True
    assert record.getMessage() == f"key {MASK}"
    assert record.args is None


# --- secrets as JSON writes them ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("secret", "text"),
    [
        ("sk/abc/def0123", '{"message":"bad key sk\\/abc\\/def0123"}'),  # `/` written as `\/`
        ("sk/abc/def0123", '{"message":"bad key sk/abc/def0123"}'),
        ('sk"quoted"0123', '{"message":"bad key sk\\"quoted\\"0123"}'),
        ("sk\\back0123", '{"message":"bad key sk\\\\back0123"}'),
        ("sk-é-0123", '{"message":"bad key sk-\\u00e9-0123"}'),  # non-ASCII as json.dumps writes it
        ("sk-é-0123", '{"message":"bad key sk-é-0123"}'),
        ("sk\t0123", '{"message":"bad key sk\\t0123"}'),
    ],
)
def test_json_escaped_forms_are_masked(secret: str, text: str) -> None:
    redact = Redactor([secret])
    expected = '{"message":"bad key ' + MASK + '"}'
    assert redact(text) == expected
    assert redact.bytes(text.encode()) == expected.encode()


# --- bytes, headers, clip ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", b""),
        (b"nothing here", b"nothing here"),
        (f"data: {SECRET}\n\n".encode(), f"data: {MASK}\n\n".encode()),
        (f"{SECRET}{SECRET}".encode(), f"{MASK}{MASK}".encode()),
        # bytes that are no UTF-8 around a secret are kept as they are
        (b"\xff\xfe " + SECRET.encode() + b" \xc3", b"\xff\xfe " + MASK.encode() + b" \xc3"),
        (b"\xff\xfe", b"\xff\xfe"),
        (SECRET.encode()[:-1], SECRET.encode()[:-1]),
    ],
)
def test_bytes(data: bytes, expected: bytes) -> None:
    assert Redactor([SECRET]).bytes(data) == expected


def test_bytes_unchanged_are_the_same_object() -> None:
    data = b"x" * 1000
    assert Redactor([SECRET]).bytes(data) is data  # nothing copied on the hot path


def test_a_secret_that_is_no_utf8_is_masked_in_bytes() -> None:
    secret = b"sk-\xff\xfe-0123".decode("utf-8", "surrogateescape")
    assert Redactor([secret]).bytes(b"key sk-\xff\xfe-0123!") == f"key {MASK}!".encode()


def test_headers_mask_values_and_keep_names() -> None:
    headers = {"authorization": f"Bearer {SECRET}", "x-sk-or-v1-abcdef0123456789": "ok", "retry-after": "7"}
    masked = Redactor([SECRET]).headers(headers)
    assert masked == {"authorization": f"Bearer {MASK}", "x-sk-or-v1-abcdef0123456789": "ok", "retry-after": "7"}
    assert headers["authorization"] == f"Bearer {SECRET}"  # a new mapping; the given one is unchanged


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 10, "short"),
        ("exactly 10", 10, "exactly 10"),
        ("eleven char", 10, "eleven ..."),
        (f"key {SECRET}", 100, f"key {MASK}"),
        (f"key {SECRET}", 14, f"key {MASK}"),  # masked first, then short enough
        (f"key {SECRET} and more", 14, f"key {MASK[:7]}..."),
    ],
)
def test_clip(text: str, limit: int, expected: str) -> None:
    assert Redactor([SECRET]).clip(text, limit) == expected


@pytest.mark.parametrize("before", range(0, 30, 3))
def test_clip_never_leaves_half_a_key(before: int) -> None:
    redact = Redactor([SECRET])
    text = "x" * before + SECRET + " and the rest of the upstream's message"
    for limit in range(3, len(text) + 2):
        clipped = redact.clip(text, limit)
        assert len(clipped) <= limit
        assert SECRET[:6] not in clipped, (limit, clipped)  # not even the start of the key


@pytest.mark.parametrize("limit", [0, 1, 2])
def test_clip_to_a_tiny_limit_is_no_longer_than_it(limit: int) -> None:
    assert len(Redactor([SECRET]).clip("a message of some length", limit)) <= limit


# --- with_secrets ----------------------------------------------------------------------------------------------


def test_with_secrets_adds_a_requests_own_secrets() -> None:
    base = Redactor([SECRET])
    more = base.with_secrets(["client/upstream-key-42", ""])
    text = f"{SECRET} client/upstream-key-42 client\\/upstream-key-42"
    assert more(text) == f"{MASK} {MASK} {MASK}"
    assert more.bytes(text.encode()) == f"{MASK} {MASK} {MASK}".encode()
    # the base redactor is unchanged
    assert base(text) == f"{MASK} client/upstream-key-42 client\\/upstream-key-42"


@pytest.mark.parametrize("secrets", [[], [""], ("", "")])
def test_with_no_secrets_is_the_same_redactor(secrets: list[str]) -> None:
    base = Redactor([SECRET])
    assert base.with_secrets(secrets) is base


def test_with_secrets_keeps_longest_first() -> None:
    more = Redactor(["abc"]).with_secrets(["abcdef"])
    assert more("xx abcdef yy abc") == f"xx {MASK} yy {MASK}"
