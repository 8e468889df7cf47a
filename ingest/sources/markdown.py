"""Markdown postmortems and runbooks, parsed with markdown-it-py; optional YAML front matter."""

from __future__ import annotations

from pathlib import Path

from markdown_it import MarkdownIt

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
from kb.core.bounded import Refused
from kb.core.errors import ParseError
from kb.core.models import Record, Section

EXTENSIONS = (".md", ".markdown", ".mdown")
#: block structure only: sections need headings (and what is code, a list, a quote), never emphasis or links,
#: whose inline rules are the slow part on hostile text (a line of 100 KB of asterisks took 8 s)
_MD = MarkdownIt("commonmark").disable("inline")


def _line_offsets(text: str) -> list[int]:
    offsets = [0]
    for i, ch in enumerate(text):
        if ch == "\n":
            offsets.append(i + 1)
    offsets.append(len(text))
    return offsets


def sections_of(body: str) -> tuple[str | None, list[Section]]:
    """(title from the first level-1 heading, sections split at every other heading)."""
    tokens = _MD.parse(body)
    lines = _line_offsets(body)
    title: str | None = None
    marks: list[tuple[str, str, int, int]] = []  # (name, heading, level, offset)
    for i, token in enumerate(tokens):
        if token.type != "heading_open" or token.map is None:
            continue
        heading = tokens[i + 1].content.strip() if i + 1 < len(tokens) else ""
        level = int(token.tag[1])
        if level == 1 and title is None and not marks:
            title = heading
            continue
        name = extract.canonical_section(heading)
        if name == "other" and marks and level > marks[-1][2]:
            parents = [m for m in marks if m[2] < level]
            if parents:
                name = parents[-1][0]
        marks.append((name, heading, level, lines[min(token.map[0], len(lines) - 1)]))
    sections: list[Section] = []
    first = marks[0][3] if marks else len(body)
    if body[:first].strip():
        sections.append(Section(name="body", heading=title or "", start=0, end=first))
    for i, (name, heading, _level, offset) in enumerate(marks):
        end = marks[i + 1][3] if i + 1 < len(marks) else len(body)
        sections.append(Section(name=name, heading=heading, start=offset, end=end))
    return title, sections


def parse(path: Path, options: ParseOptions) -> list[Record]:
    """One record for one Markdown file."""
    data = read_bytes(path, options)
    raw = decode_text(path, data)
    redacted = redact_text(raw, options)
    try:
        front, body_start = extract.split_front_matter(redacted.text)
    except Refused as exc:
        raise ParseError(str(path), str(exc)) from exc
    body = redacted.text[body_start:]
    title, sections = sections_of(body)
    record = finish_record(
        path=path,
        source_key=str(path),
        record_id=slug(path.stem),
        fmt="markdown",
        data_hash=content_hash(data, options),
        text=body,
        sections=sections,
        front=front,
        title=title,
        redactions=redacted.total,
        options=options,
    )
    if front:
        block = extract.FRONT_MATTER_RE.match(redacted.text)
        record.front_matter_text = block.group(1).replace("\r\n", "\n") + "\n" if block else ""
    return [record]
