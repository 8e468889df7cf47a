"""Source formats. Every module exposes ``parse(path, options) -> list[Record]``.

``discover`` turns the paths a user gave into units: single files, and Slack export folders (a folder
with users.json and channels.json is one unit). ``unit_hash`` is what incremental ingest compares
before parsing anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ingest.redaction.records import check_source_name, redact_record
from ingest.sources import markdown, pdf, slack, text, transcript
from ingest.sources.base import ParseOptions, content_hash, read_bytes
from kb.errors import UnsupportedFile
from kb.models import Kind, Record

Parser = Callable[[Path, ParseOptions], list[Record]]
SUFFIXES = set(markdown.EXTENSIONS) | set(pdf.EXTENSIONS) | set(text.EXTENSIONS) | set(transcript.EXTENSIONS)


@dataclass(frozen=True)
class Unit:
    """One thing to ingest: a file or a Slack export folder."""

    path: Path
    slack_export: bool = False


def discover(paths: Iterable[Path]) -> tuple[list[Unit], list[Path]]:
    """(units to ingest, files skipped for their extension). Hidden files and folders are skipped."""
    units: list[Unit] = []
    skipped: list[Path] = []
    seen: set[Path] = set()

    def add(unit: Unit) -> None:
        if unit.path not in seen:
            seen.add(unit.path)
            units.append(unit)

    def walk(folder: Path) -> None:
        if slack.is_export(folder):
            add(Unit(folder, slack_export=True))
            return
        for child in sorted(folder.iterdir()):
            if child.name.startswith("."):
                continue
            if child.is_dir():
                walk(child)
            elif child.suffix.lower() in SUFFIXES:
                add(Unit(child))
            elif child.is_file():
                skipped.append(child)

    for raw in paths:
        path = raw.expanduser().resolve()
        if path.is_dir():
            walk(path)
        elif path.exists():
            add(Unit(path))
        else:
            units.append(Unit(path))  # parsing reports "not found" for it
    return units, skipped


def unit_hash(unit: Unit, options: ParseOptions) -> str:
    """The content hash records of this unit carry (raises ParseError when unreadable)."""
    if unit.slack_export:
        return slack.export_hash(unit.path, options)
    return content_hash(read_bytes(unit.path, options), options)


def parser_for(unit: Unit, options: ParseOptions) -> Parser:
    if unit.slack_export:
        return slack.parse
    suffix = unit.path.suffix.lower()
    if suffix in markdown.EXTENSIONS:
        return markdown.parse
    if suffix in pdf.EXTENSIONS:
        return pdf.parse
    if suffix in SUFFIXES:
        if options.kind == Kind.chat:
            return transcript.parse
        head = read_bytes(unit.path, options)[:65536].decode("utf-8", "ignore")
        return transcript.parse if transcript.looks_like_transcript(head) else text.parse
    raise UnsupportedFile(str(unit.path), f"unsupported file type '{suffix or 'no extension'}'")


def parse_unit(unit: Unit, options: ParseOptions) -> list[Record]:
    """Parse one unit into its records, or raise a ParseError naming the file and the reason.

    Every field of every record is redacted here, whatever the source; a file whose name holds a
    secret is refused before it is read.
    """
    if options.redact:
        check_source_name(unit.path)
    if not unit.path.exists():
        raise UnsupportedFile(str(unit.path), "no such file or folder")
    records = parser_for(unit, options)(unit.path, options)
    return [redact_record(record, options.redact) for record in records]
