"""Secrets are replaced with a marker before anything is parsed further, embedded or stored.

Two layers find them: the maintained Betterleaks rule set (:mod:`.scanner`: vendor tokens, keys and
generic credentials, about 460 rules) and our own rules for how secrets show up in incident material
(:mod:`.sre`, :mod:`.private_key`). The marker names the rule that fired
(``[REDACTED:github-pat]``), so a reader knows something was there without seeing it; only the
secret is replaced, so ``redis-cli -a [REDACTED:cli-password] ping`` stays a usable command.

Every pattern runs in time linear in the input (Go's RE2 for the rule set, RE2 for ours, one pass
for private keys). :func:`redact_record` applies the same to every field of a parsed record.
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field

import re2

from ingest.redaction import private_key, scanner, sre
from ingest.redaction.scanner import Span

__all__ = ["Redaction", "Span", "find", "redact"]

#: Keys whose value names a thing, not a secret: the rule set's generic rules (run only when the
#: package cannot print its configuration, see scanner.config_path) fire on their hex.
_IDENTIFIER_KEYS = re2.compile(
    r"(?i)(?:trace|span|request|correlation|parent|commit|revision|build|run|event|message)[_-]?ids?|"
    r"digest|sha\d*|md5|checksum|etag|fingerprint|uuid|guid|integrity|hash"
)


@dataclass
class Redaction:
    """The redacted text and what was replaced."""

    text: str
    counts: Counter[str] = field(default_factory=Counter)
    #: (start, end, length of the marker) of each replacement, in the original text, in order
    edits: list[tuple[int, int, int]] = field(default_factory=list)
    _starts: list[int] = field(default_factory=list, repr=False, compare=False)
    _shifts: list[int] = field(default_factory=list, repr=False, compare=False)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def offset(self, original: int) -> int:
        """Where an offset of the original text lands in the redacted text (inside a secret: after its marker)."""
        if len(self._starts) != len(self.edits):
            self._starts = [start for start, _, _ in self.edits]
            self._shifts = [0]
            for start, end, size in self.edits:
                self._shifts.append(self._shifts[-1] + size - (end - start))
        i = bisect.bisect_right(self._starts, original) - 1
        if i < 0:
            return original
        start, end, size = self.edits[i]
        shift = self._shifts[i]
        if original == start:
            return start + shift
        if original < end:
            return start + shift + size
        return original + shift + size - (end - start)


def _generic_on_identifier(span: Span, text: str) -> bool:
    """A generic rule firing on a trace id, digest or commit: the key before it says what it is."""
    if not span.rule.startswith("generic-"):
        return False
    before = text[max(0, span.start - 40) : span.start]
    key = re2.search(r"([A-Za-z0-9_.-]+)[\"']?\s*[:=]\s*[\"']?$", before)
    return bool(key and _IDENTIFIER_KEYS.fullmatch(key.group(1).split(".")[-1]))


def find(text: str) -> list[Span]:
    """Every secret span in ``text``, overlapping spans merged, in order."""
    spans = [
        s
        for s in scanner.scan(text)
        if not (s.rule.startswith("generic-") and (sre.is_placeholder(s.secret) or _generic_on_identifier(s, text)))
    ]
    spans.extend(sre.scan(text))
    spans.extend(private_key.scan(text))
    spans.sort(key=lambda s: (s.start, -s.end))
    merged: list[Span] = []
    for span in spans:
        if merged and span.start < merged[-1].end:
            last = merged[-1]
            if span.end > last.end:
                merged[-1] = Span(last.start, span.end, last.rule, text[last.start : span.end])
            continue
        merged.append(span)
    return merged


def redact(text: str, enabled: bool = True) -> Redaction:
    """Replace every secret in ``text`` with ``[REDACTED:<rule>]``."""
    result = Redaction(text)
    if not enabled or not text:
        return result
    spans = find(text)
    if not spans:
        return result
    parts: list[str] = []
    position = 0
    for span in spans:
        marker = f"[REDACTED:{span.rule}]"
        parts.append(text[position : span.start])
        parts.append(marker)
        result.counts[span.rule] += 1
        result.edits.append((span.start, span.end, len(marker)))
        position = span.end
    parts.append(text[position:])
    result.text = "".join(parts)
    return result
