"""Plain-text documents: a title line, 'Key: value' metadata lines, plain heading lines."""

from __future__ import annotations

from pathlib import Path

from ingest import extract
from ingest.sources.base import (
    ParseOptions,
    content_hash,
    decode_text,
    finish_record,
    read_bytes,
    redact_text,
    slug,
)
from kb.core.models import Record, Section

EXTENSIONS = (".txt", ".text", ".rst")


#: a first line longer than this is a paragraph, not a title
MAX_TITLE = 150


def title_line(text: str) -> str | None:
    """The first line when it reads as a heading: short, not ending a sentence or running on into a
    lowercase continuation line (a PDF's wrapped first paragraph). None otherwise: the file name is used."""
    lines = text.lstrip().split("\n", 2)
    first = lines[0].strip(" #=*-\t") if lines else ""
    if not first or len(first) > MAX_TITLE or first.endswith((".", ",", ";")) or len(first.split()) > 20:
        return None
    following = lines[1].strip() if len(lines) > 1 else ""
    if following[:1].islower():
        return None  # the first line of a wrapped paragraph
    return first


def text_sections(text: str) -> list[Section]:
    return [Section(name=n, heading=h, start=s, end=e) for n, h, s, e in extract.plain_sections(text)]


def record_from_text(
    path: Path,
    text: str,
    data_hash: str,
    fmt: str,
    redactions: int,
    options: ParseOptions,
    front: dict[str, object] | None = None,
) -> Record:
    """Shared by plain text and PDF: sections from heading lines, metadata from 'Key: value' lines."""
    front = dict(front or {})
    for key in ("title", "kind", "type"):
        value = extract.meta_line(text, key)
        if value and key not in front:
            front[key] = value
    return finish_record(
        path=path,
        source_key=str(path),
        record_id=slug(path.stem),
        fmt=fmt,
        data_hash=data_hash,
        text=text,
        sections=text_sections(text),
        front=front,
        title=title_line(text),
        redactions=redactions,
        options=options,
    )


def parse(path: Path, options: ParseOptions) -> list[Record]:
    """One record for one plain-text file."""
    data = read_bytes(path, options)
    redacted = redact_text(decode_text(path, data), options)
    return [record_from_text(path, redacted.text, content_hash(data, options), "text", redacted.total, options)]
