"""Markdown postmortems and runbooks, parsed with markdown-it-py; optional YAML front matter."""

from __future__ import annotations

import re
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
from kb.core.enums import SectionName
from kb.core.errors import ParseError
from kb.core.models import Record, Section
from kb.retrieval.sectioning import name_sections
from kb.text.front_matter import FRONT_MATTER_RE, split_front_matter

EXTENSIONS = (".md", ".markdown", ".mdown")
#: block structure only: sections need headings (and what is code, a list, a quote), never emphasis or links,
#: whose inline rules are the slow part on hostile text (a line of 100 KB of asterisks took 8 s)
_MD = MarkdownIt("commonmark").disable("inline")


#: above this many lines a document's headings are found by the line scanner below: markdown-it-py spends about
#: 40 µs per block, so a 1 MB file of one-line paragraphs would take 10 s (bounded parsing: docs/security/parsing.md)
MAX_PARSER_LINES = 10_000

_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})([^\n]*)")
_ATX = re.compile(r" {0,3}(#{1,6})(?:[ \t]+|$)([^\n]*)")
_SETEXT = re.compile(r" {0,3}(=+|-+)[ \t]*")
_INDENTED = re.compile(r"(?: {4}|\t)")
_BLOCK_START = re.compile(r" {0,3}(?:[>*+-]|\d{1,9}[.)]|<|\|)")

#: (level, heading text, line index) of one heading
Heading = tuple[int, str, int]


def _line_offsets(text: str) -> list[int]:
    offsets = [0]
    offsets.extend(match.end() for match in re.finditer("\n", text))
    offsets.append(len(text))
    return offsets


def _parsed_headings(body: str) -> list[Heading]:
    """Headings as markdown-it-py's CommonMark block parser finds them."""
    tokens = _MD.parse(body)
    found: list[Heading] = []
    for i, token in enumerate(tokens):
        if token.type == "heading_open" and token.map is not None:
            heading = tokens[i + 1].content.strip() if i + 1 < len(tokens) else ""
            found.append((int(token.tag[1]), heading, token.map[0]))
    return found


def _atx_text(rest: str) -> str:
    """An ATX heading's text without its optional closing run of #."""
    text = rest.strip()
    stripped = text.rstrip("#")
    if stripped != text and (not stripped or stripped[-1] in " \t"):
        text = stripped
    return text.strip()


def scanned_headings(body: str) -> list[Heading]:
    """Top-level headings found line by line, in linear time: ATX headings and setext underlines outside
    fenced and indented code. Agrees with the CommonMark parser on headings outside lists and quotes."""
    found: list[Heading] = []
    fence: str | None = None
    paragraph: list[str] = []  # the open paragraph's lines, a setext underline's heading text
    paragraph_start = 0
    nested = False  # inside a list, quote, HTML block or table: its lines hold no top-level heading
    for index, line in enumerate(body.split("\n")):
        if fence is not None:
            closing = line.strip()
            if closing.startswith(fence) and not closing.strip(fence[0]) and not _INDENTED.match(line):
                fence = None
            continue
        if not line.strip():
            paragraph, nested = [], False
            continue
        if not paragraph and _INDENTED.match(line):
            continue  # indented code, or a list item's continuation
        opening = _FENCE.match(line)
        if opening and not (opening.group(1)[0] == "`" and "`" in opening.group(2)):
            fence, paragraph = opening.group(1), []
            continue
        atx = _ATX.match(line)
        if atx:
            found.append((len(atx.group(1)), _atx_text(atx.group(2)), index))
            paragraph, nested = [], False
            continue
        underline = _SETEXT.fullmatch(line)
        if underline and paragraph and not nested:
            level = 1 if underline.group(1)[0] == "=" else 2
            found.append((level, "\n".join(p.strip() for p in paragraph).strip(), paragraph_start))
            paragraph = []
            continue
        if _BLOCK_START.match(line) or nested:
            paragraph, nested = [], True
            continue
        if not paragraph:
            paragraph_start = index
        paragraph.append(line)
    return found


#: a bold label that opens a line ("**Resolution**:", "- **Time to repair**: 2h", "**Root cause:**", a bold
#: line alone): a field of a document that has no heading for it, made a section with its label as heading
_BOLD_LABEL = re.compile(r" {0,3}(?:[-*+][ \t]+)?\*\*([^*\n]{2,60}?)(?::\*\*|\*\*[ \t]*(?::|$))")
#: the level given to a bold label: below every heading, so a label that names nothing inherits its heading's name
LABEL_LEVEL = 7


def bold_labels(body: str) -> list[Heading]:
    """(LABEL_LEVEL, label, line index) of each bold label opening a line outside fenced code."""
    found: list[Heading] = []
    fence: str | None = None
    for index, line in enumerate(body.split("\n")):
        if fence is not None:
            if line.strip().startswith(fence):
                fence = None
            continue
        opening = _FENCE.match(line)
        if opening:
            fence = opening.group(1)
            continue
        label = _BOLD_LABEL.match(line)
        if label:
            found.append((LABEL_LEVEL, label.group(1).strip().rstrip(":").strip(), index))
    return found


def sections_of(body: str) -> tuple[str | None, list[Section]]:
    """(title from the first level-1 heading, sections split at every other heading and bold label), each
    named by what its heading and opening say (``kb.retrieval.sectioning``, one batch per document)."""
    lines = _line_offsets(body)
    headings = scanned_headings(body) if len(lines) > MAX_PARSER_LINES else _parsed_headings(body)
    if len(lines) <= MAX_PARSER_LINES:
        headings = sorted([*headings, *bold_labels(body)], key=lambda h: h[2])
    title: str | None = None
    marks: list[tuple[str, int, int, int]] = []  # (heading, level, offset, line)
    for level, heading, line in headings:
        if len(marks) == extract.MAX_SECTIONS:
            break
        if level == 1 and title is None and not marks:
            title = heading
            continue
        marks.append((heading, level, lines[min(line, len(lines) - 1)], line))
    ends = [marks[i + 1][2] if i + 1 < len(marks) else len(body) for i in range(len(marks))]
    bodies = [_body_after(body, lines, line, lv, end) for (_h, lv, _o, line), end in zip(marks, ends, strict=True)]
    names = name_sections([(mark[0], text) for mark, text in zip(marks, bodies, strict=True)], [m[1] for m in marks])
    sections: list[Section] = []
    first = marks[0][2] if marks else len(body)
    if body[:first].strip():
        sections.append(Section(name=SectionName.body, heading=title or "", start=0, end=first))
    for kind, (heading, _lv, offset, _line), end in zip(names, marks, ends, strict=True):
        sections.append(Section(name=kind, heading=heading, start=offset, end=end))
    return title, sections


def _body_after(body: str, lines: list[int], line: int, level: int, end: int) -> str:
    """The text a heading introduces: after its line (after the label, for a bold label)."""
    start = lines[min(line, len(lines) - 1)]
    if level == LABEL_LEVEL:
        label = _BOLD_LABEL.match(body, start)
        return body[label.end() if label else start : end]
    return body[lines[min(line + 1, len(lines) - 1)] : end]


def parse(path: Path, options: ParseOptions) -> list[Record]:
    """One record for one Markdown file."""
    data = read_bytes(path, options)
    raw = decode_text(path, data)
    redacted = redact_text(raw, options)
    try:
        front, body_start = split_front_matter(redacted.text)
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
        block = FRONT_MATTER_RE.match(redacted.text)
        record.front_matter_text = block.group(1).replace("\r\n", "\n") + "\n" if block else ""
    return [record]
