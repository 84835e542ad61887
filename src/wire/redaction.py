"""Secrets never leave in a response, a log line or a record.

Every byte that reaches a client passes one Redactor (`src.core.delivery`), and every log line
passes it too (`RedactingFilter`). A secret is masked as it is, and as JSON encoders write it (a `/`
as `\\/`, a `"` or `\\` escaped, `<>&+` as `\\u` escapes), since an upstream that echoes a key
usually echoes it inside JSON.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping

MASK = "[redacted]"


class Redactor:
    __slots__ = ("_texts", "_bytes")

    def __init__(self, secrets: Iterable[str]) -> None:
        forms = {form for secret in secrets if secret for form in _forms(secret)}
        # Longest first, so a key that contains another is masked whole.
        self._texts = tuple(sorted(forms, key=len, reverse=True))
        self._bytes = tuple((form.encode("utf-8", "surrogateescape"), MASK.encode()) for form in self._texts)

    def with_secrets(self, secrets: Iterable[str]) -> Redactor:
        """This redactor plus one request's own secrets (a client's upstream key)."""
        more = tuple(s for s in secrets if s)
        return self if not more else Redactor((*self._texts, *more))

    def __call__(self, text: str) -> str:
        for secret in self._texts:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def bytes(self, data: bytes) -> bytes:
        for secret, mask in self._bytes:
            if secret in data:
                data = data.replace(secret, mask)
        return data

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        return {name: self(value) for name, value in headers.items()}

    def clip(self, text: str, limit: int) -> str:
        """`text` masked, then cut to `limit` characters: cutting first could leave half a key unrecognised."""
        text = self(text)
        if len(text) <= limit:
            return text
        return text[: limit - 3] + "..." if limit >= 3 else text[:limit]


# Characters some JSON encoders write as \u escapes although JSON does not ask it: Go's (`<>&`) and
# .NET's (also `+`, `'` and the backquote), in either case of hex digits.
_HTML_SAFE_SETS = ("<>&", "<>&+'`")


def _forms(secret: str) -> set[str]:
    escaped = json.dumps(secret)[1:-1]
    forms = {secret, escaped, escaped.replace("/", "\\/")}
    for characters in _HTML_SAFE_SETS:
        for spelling in ("\\u{:04x}", "\\u{:04X}"):
            form = escaped
            for character in characters:
                form = form.replace(character, spelling.format(ord(character)))
            forms.add(form)
    return forms  # only the forms a secret's own characters make differ are more than one


class RedactingFilter(logging.Filter):
    """Masks secrets in every record that passes through the handler it is attached to."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self._redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg, record.args = self._redact(message), None
        if record.exc_text:
            record.exc_text = self._redact(record.exc_text)
        return True
