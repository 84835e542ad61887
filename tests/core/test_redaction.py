"""Redactor and RedactingFilter: secrets never reach a log line."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from src.wire.redaction import MASK, Redactor, RedactingFilter

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
