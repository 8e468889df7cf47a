"""Redaction of every field of a parsed record, in one place after parsing.

Sources redact the text they build (its offsets depend on it); this pass covers the rest, whatever
the source: title, owner, services, tags, alerts, error strings, every front-matter key and value
(Slack's channel topic and purpose among them), chat authors and message texts, section headings,
and the text once more (a Slack line's author is not part of the message that was redacted), moving
section, message and page offsets when a marker replaces something.

A secret in a file or channel name cannot be redacted away: the name is the document's identity and
is stored as its source path. Such a source is refused with a reason that names the rule, never
the secret (:func:`check_source_name`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ingest.redaction import Redaction, find, redact
from kb.core.errors import ParseError
from kb.core.models import Record


class SecretInName(ParseError):
    """A file, folder or channel name holds what looks like a secret."""


def _shown(name: str) -> str:
    return redact(name).text


def check_source_name(path: Path, enabled: bool = True) -> None:
    """Raise :class:`SecretInName` when a part of ``path`` looks like a secret."""
    if not enabled:
        return
    for part in path.parts:
        spans = find(part)
        if spans:
            raise SecretInName(
                _shown(str(path)),
                f"the name '{_shown(part)}' looks like it holds a secret ({spans[0].rule}); "
                "rename it and ingest again (nothing of it was stored)",
            )


class _Counter:
    def __init__(self) -> None:
        self.total = 0

    def text(self, value: str) -> str:
        result = redact(value)
        self.total += result.total
        return result.text

    def value(self, value: Any) -> Any:
        """Strings anywhere in a front-matter value (lists, mappings, nested) are redacted."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self.value(v) for v in value)
        if isinstance(value, dict):
            return {self.value(k): self.value(v) for k, v in value.items()}
        return value


def _move_offsets(record: Record, result: Redaction) -> None:
    for section in record.sections:
        section.start, section.end = result.offset(section.start), result.offset(section.end)
    for message in record.messages:
        message.start, message.end = result.offset(message.start), result.offset(message.end)
    pages = record.front_matter.get("page_offsets")
    if isinstance(pages, list):
        record.front_matter["page_offsets"] = [result.offset(p) if isinstance(p, int) else p for p in pages]


def redact_record(record: Record, enabled: bool = True) -> Record:
    """The record with every text field redacted; ``record.redactions`` counts what this pass found too."""
    if not enabled:
        return record
    check_source_name(Path(record.source_key))
    counter = _Counter()
    body = redact(record.text)
    if body.total:
        record.text = body.text
        counter.total += body.total
        _move_offsets(record, body)
    record.title = counter.text(record.title)
    record.owner = counter.text(record.owner) if record.owner else record.owner
    record.duration = counter.text(record.duration) if record.duration else record.duration
    record.severity = counter.text(record.severity) if record.severity else record.severity
    record.services = [counter.text(s) for s in record.services]
    record.alerts = [counter.text(a) for a in record.alerts]
    record.tags = [counter.text(t) for t in record.tags]
    record.error_strings = [counter.text(e) for e in record.error_strings]
    record.front_matter = counter.value(record.front_matter)
    record.front_matter_text = counter.text(record.front_matter_text)
    for section in record.sections:
        section.heading = counter.text(section.heading)
    for message in record.messages:
        message.author = counter.text(message.author)
        message.text = counter.text(message.text)
        if message.thread_ts:
            message.thread_ts = counter.text(message.thread_ts)
    record.redactions += counter.total
    return record
