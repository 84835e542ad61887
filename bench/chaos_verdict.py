"""The chaos run's verdict on one client-side answer (chat completions, `"stream": true`).

- **intact**: a 200 event stream with all the content, once and in order, and `data: [DONE]` last;
- **error-terminated**: a 200 event stream whose content so far is a prefix of the whole and
  whose last event is its only error event (`data: {"error": {"message": ...}}`), or an error
  status with a well-formed OpenAI error body (`{"error": {"message": str, "type": str}}`);
- **garbled**: anything else: a body cut without an end, a malformed event, content repeated or
  out of order, more than one error, an event after the error, a traceback, an upstream key
  anywhere in the head or the body (raw or JSON-escaped), a connection lost or no end in time.

A 5xx is *unexpected* when it is a 500 or has no well-formed JSON error body: 502/503/504 with a
proper body are how the proxy reports an upstream that failed on every route.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

INTACT, ERROR, GARBLED = "intact", "error-terminated", "garbled"


@dataclass(frozen=True)
class Verdict:
    kind: str  # INTACT, ERROR or GARBLED
    reason: str = ""
    unexpected_5xx: bool = False


def leaked(data: bytes, secrets: list[str]) -> str | None:
    """The first secret found in `data`, raw or as JSON writes it (`/` as `\\/`)."""
    for secret in secrets:
        forms = {secret.encode(), secret.replace("/", "\\/").encode(), json.dumps(secret)[1:-1].encode()}
        if any(form in data for form in forms):
            return secret
    return None


def error_envelope(payload: object, need_type: bool) -> bool:
    if not isinstance(payload, dict) or not isinstance(payload.get("error"), dict):
        return False
    error = payload["error"]
    return isinstance(error.get("message"), str) and (not need_type or isinstance(error.get("type"), str))


FIELDS = (b"data:", b"event:", b"id:", b"retry:")
MALFORMED = b"\0 malformed event"


def events_of(body: bytes) -> tuple[list[bytes], bytes]:
    """The data of each SSE event (comments left out) and what follows the last complete event."""
    text = body.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    *events, rest = text.split(b"\n\n")
    data = []
    for event in events:
        lines = [line for line in event.split(b"\n") if line and not line.startswith(b":")]
        if not lines:
            continue  # a comment (a keep-alive)
        if not all(line.startswith(FIELDS) for line in lines):
            data.append(MALFORMED)
            continue
        data.append(b"\n".join(line[5:].removeprefix(b" ") for line in lines if line.startswith(b"data:")))
    return data, rest


def stream_verdict(body: bytes, expected: str) -> Verdict:
    data, rest = events_of(body)
    if rest.strip():
        return Verdict(GARBLED, "the body ends halfway through an event")
    content, errors, done_at = [], 0, None
    for index, item in enumerate(data):
        if done_at is not None or (errors and item):
            return Verdict(GARBLED, "an event after the end of the stream")
        if item == b"[DONE]":
            done_at = index
            continue
        try:
            payload = json.loads(item)
        except ValueError:
            return Verdict(GARBLED, f"an event that is not JSON: {item[:80]!r}")
        if isinstance(payload, dict) and payload.get("error"):
            if not error_envelope(payload, need_type=False):
                return Verdict(GARBLED, f"a malformed error event: {item[:120]!r}")
            errors += 1
            continue
        choices = payload.get("choices") if isinstance(payload, dict) else None
        if not isinstance(choices, list):
            return Verdict(GARBLED, f"an event that is no chunk: {item[:80]!r}")
        content += [(c.get("delta") or {}).get("content") or "" for c in choices if isinstance(c, dict)]
    text = "".join(content)
    if not expected.startswith(text):
        return Verdict(GARBLED, f"content repeated or out of order: {text[:60]!r}")
    if errors:
        return Verdict(ERROR, "an error event after the content")
    if done_at is None:
        return Verdict(GARBLED, "the stream ends without [DONE] or an error event")
    if text != expected:
        return Verdict(GARBLED, f"[DONE] after incomplete content: {text!r}")
    return Verdict(INTACT)


def verdict(status: int, head: bytes, body: bytes, expected: str, secrets: list[str], failure: str = "") -> Verdict:
    """The verdict on one answer; `failure`: why it has no complete body (lost connection, timeout)."""
    if failure:
        return Verdict(GARBLED, failure, status == 500)
    if (secret := leaked(head + b"\n" + body, secrets)) is not None:
        return Verdict(GARBLED, f"the upstream key {secret[:12]}... is visible to the client", status >= 500)
    if b"Traceback (most recent call last)" in body:
        return Verdict(GARBLED, "a traceback in the body", status >= 500)
    content_type = b""
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-type":
            content_type = value.strip().lower()
    if status == 200:
        if not content_type.startswith(b"text/event-stream"):
            return Verdict(GARBLED, f"a 200 that is not an event stream ({content_type.decode()})")
        return stream_verdict(body, expected)
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    proper = content_type.startswith(b"application/json") and error_envelope(payload, need_type=True)
    if not proper:
        return Verdict(GARBLED, f"a {status} without a well-formed JSON error body: {body[:80]!r}", status >= 500)
    return Verdict(ERROR, f"status {status}", status == 500)
