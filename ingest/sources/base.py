"""What every source module shares: reading bytes safely, hashing, ids, and finishing a record."""

from __future__ import annotations

import errno
import hashlib
import math
import os
import re
import stat
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from ingest import extract
from ingest.redaction import Redaction, redact
from kb.core.errors import EmptyDocument, ParseError
from kb.core.models import Kind, Record, Section
from kb.text.sections import POSTMORTEM_SECTIONS, RUNBOOK_SECTIONS

#: Bump when parsing changes, so re-ingest re-parses files whose bytes did not change.
PARSER_VERSION = "2"


@dataclass
class ParseOptions:
    """What a parser needs besides the path."""

    redact: bool = True
    kind: Kind | None = None  # --kind override
    known_services: set[str] = field(default_factory=set)
    max_bytes: int = 25 * 1024 * 1024


def slug(text: str) -> str:
    """A lowercase id made of letters, digits and dashes."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "doc"


def content_hash(data: bytes, options: ParseOptions) -> str:
    digest = hashlib.sha256(data)
    digest.update(f"|parser={PARSER_VERSION}|redact={options.redact}".encode())
    return digest.hexdigest()


def read_bytes(path: Path, options: ParseOptions) -> bytes:
    """The file's bytes, refusing files that are too large or empty, and anything but a regular file.

    The last part of the path is opened without following a link: discovery gives real paths, so a
    link there now was put in place while ingest ran, and is not read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)  # a pipe must not block the run
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ParseError(str(path), "became a symbolic link after it was found: not read") from exc
        raise ParseError(str(path), f"cannot read: {exc.strerror or exc}") from exc
    with os.fdopen(fd, "rb") as file:
        try:
            info = os.fstat(file.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise ParseError(str(path), "not a regular file")
            if info.st_size > options.max_bytes:
                raise ParseError(str(path), _too_large(info.st_size, options))
            if info.st_size == 0:
                raise EmptyDocument(str(path), "empty file")
            data = file.read(options.max_bytes + 1)  # it may have grown since
        except OSError as exc:
            raise ParseError(str(path), f"cannot read: {exc.strerror or exc}") from exc
    if len(data) > options.max_bytes:
        raise ParseError(str(path), _too_large(len(data), options))
    return data


def _too_large(size: int, options: ParseOptions) -> str:
    return (
        f"file is {size / 1048576:.1f} MB, over the {options.max_bytes / 1048576:.0f} MB limit "
        "(KB_MAX_FILE_MB); split it or raise the limit"
    )


def decode_text(path: Path, data: bytes) -> str:
    """UTF-8 text (BOM tolerated), refusing binary data and invalid encodings with the reason."""
    if b"\x00" in data[:8192]:
        raise ParseError(str(path), "binary data, not a text document")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(str(path), f"not valid UTF-8 text (bad byte at offset {exc.start})") from exc
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise EmptyDocument(str(path), "no text in file")
    return text


def redact_text(text: str, options: ParseOptions) -> Redaction:
    return redact(text, enabled=options.redact)


def detect_kind(
    path: Path, front: dict[str, object], sections: list[Section], options: ParseOptions, default: Kind = Kind.document
) -> Kind:
    """--kind, then front matter, then the folder name, then which sections the text has."""
    if options.kind:
        return options.kind
    declared = str(front.get("kind") or front.get("type") or "").strip().lower()
    for kind in Kind:
        if declared in {kind.value, kind.value + "s"}:
            return kind
    if declared in {"incident", "post-mortem", "incident-report", "rca"}:
        return Kind.postmortem
    if declared in {"playbook", "sop"}:
        return Kind.runbook
    parts = {p.lower() for p in path.parts[:-1]}
    if parts & {"postmortems", "postmortem", "post-mortems", "incidents", "rca", "retros"}:
        return Kind.postmortem
    if parts & {"runbooks", "runbook", "playbooks", "sops"}:
        return Kind.runbook
    if parts & {"chats", "chat", "slack", "transcripts", "chatlogs"}:
        return Kind.chat
    names = {s.name for s in sections}
    pm, rb = len(names & POSTMORTEM_SECTIONS), len(names & RUNBOOK_SECTIONS)
    if pm >= 2 and pm >= rb:
        return Kind.postmortem
    if rb >= 2:
        return Kind.runbook
    return default


def plain_value(value: object, depth: int = 0) -> object:
    """A front-matter value as data every store can serialise: YAML also makes dates, bytes (``!!binary``),
    sets, non-finite floats and integers beyond 64 bits, which would fail the whole write, not one file."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**63 else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (list, tuple, set)) and depth < 8:
        return [plain_value(v, depth + 1) for v in value]
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)[:2000]


def finish_record(
    *,
    path: Path,
    source_key: str,
    record_id: str,
    fmt: str,
    data_hash: str,
    text: str,
    sections: list[Section],
    front: dict[str, object],
    title: str | None,
    redactions: int,
    options: ParseOptions,
    default_kind: Kind = Kind.document,
) -> Record:
    """Fill in the metadata every record carries, from front matter first and the text second."""
    if not text.strip():
        raise EmptyDocument(str(path), "no text to index")
    kind = detect_kind(path, front, sections, options, default_kind)
    title = (str(front.get("title")) if front.get("title") else None) or title or extract.title_from_name(path.name)
    declared = front.get("services") or front.get("service") or front.get("components") or front.get("component")
    services = extract.as_list(declared) or extract.services_from_text(text, options.known_services, title)
    alerts = extract.as_list(front.get("alerts") or front.get("alert"))
    for name in extract.alerts_from_text(text):
        if name not in alerts:
            alerts.append(name)
    severity = extract.normalise_severity(front.get("severity") or front.get("sev")) or extract.severity_from_text(
        text, anywhere=fmt in {"transcript", "slack"}
    )
    when = extract.parse_date(
        front.get("date") or front.get("last_reviewed") or front.get("updated")
    ) or extract.record_date(text, title, path.name)
    owner = front.get("owner") or extract.meta_line(text, "owner", "author", "incident commander")
    duration = front.get("duration") or extract.meta_line(text, "duration", "time to mitigate")
    return Record(
        id=record_id,
        kind=kind,
        title=title,
        source_path=str(path),
        source_key=source_key,
        format=fmt,
        content_hash=data_hash,
        text=text,
        sections=sections,
        services=services,
        alerts=alerts[:30],
        error_strings=extract.errors_from_text(text),
        severity=severity,
        date=when,
        tags=extract.as_list(front.get("tags")),
        owner=str(owner) if owner else None,
        duration=str(duration) if duration else None,
        redactions=redactions,
        front_matter={k: plain_value(v) for k, v in front.items()},
    )
