"""PEM private keys, found in one pass over the text (a regular expression with a lazy ``[\\s\\S]*?``
between BEGIN and END took quadratic time on many BEGIN lines without an END).

A block runs from its BEGIN line to the next END line; with no END before the next BEGIN (a key
pasted in part), it runs over the base64 that follows, up to the first character that cannot be
part of it. Markers are found with ``str.find`` and checked by hand, and the base64 is consumed by
a pattern with possessive quantifiers only (it cannot backtrack), so the time is linear in the text.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator

from ingest.redaction.scanner import Span

_LABEL_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ")
_BODY = re.compile(r"(?:[ \t\r\n]*+(?:[A-Za-z0-9+/=]{4,}+|[A-Za-z-]++: [^\n]*+))*+")
_LABEL_MAX = 48


def _markers(text: str, lead: str) -> list[tuple[int, int]]:
    """(start, end) of each '-----BEGIN|END <...>PRIVATE KEY[ BLOCK]-----' marker."""
    found: list[tuple[int, int]] = []
    position = text.find(lead)
    while position >= 0:
        label_start = position + len(lead)
        close = text.find("-----", label_start, label_start + _LABEL_MAX + 5)
        label = text[label_start:close] if close >= 0 else ""
        if label.endswith(("PRIVATE KEY", "PRIVATE KEY BLOCK")) and set(label) <= _LABEL_CHARS:
            found.append((position, close + 5))
        position = text.find(lead, position + 1)
    return found


def scan(text: str) -> Iterator[Span]:
    if "PRIVATE KEY" not in text:
        return
    begins = _markers(text, "-----BEGIN ")
    ends = [end for _, end in _markers(text, "-----END ")]
    for i, (start, head_end) in enumerate(begins):
        next_begin = begins[i + 1][0] if i + 1 < len(begins) else len(text)
        j = bisect.bisect_left(ends, head_end)
        if j < len(ends) and ends[j] <= next_begin:
            end = ends[j]
        else:
            body = _BODY.match(text, head_end, next_begin)
            end = body.end() if body else head_end
        yield Span(start, end, "private-key", text[start:end])
