"""Source formats. Every module exposes ``parse(path, options) -> list[Record]``.

``discover`` turns the paths a user gave into units: single files, and Slack export folders (a folder
with users.json and channels.json is one unit). ``unit_hash`` is what incremental ingest compares
before parsing anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ingest.redaction.records import check_source_name, redact_record
from ingest.sources import docx, html_page, incidents, markdown, notion, pdf, quoted_chat, slack, text, transcript
from ingest.sources.base import ParseOptions, content_hash, read_bytes
from kb.core.errors import ParseError, UnsupportedFile
from kb.core.models import Kind, Record

Parser = Callable[[Path, ParseOptions], list[Record]]
SUFFIXES = set(markdown.EXTENSIONS) | set(pdf.EXTENSIONS) | set(text.EXTENSIONS) | set(transcript.EXTENSIONS)
SUFFIXES |= set(incidents.EXTENSIONS)  # incident tools' exports
SUFFIXES |= set(html_page.EXTENSIONS) | set(docx.EXTENSIONS)  # Confluence, Google Docs, Word


@dataclass(frozen=True)
class Unit:
    """One thing to ingest: a file or a Slack export folder, or a path refused before reading (``refused``
    says why: a link out of the folder, a link loop)."""

    path: Path
    slack_export: bool = False
    refused: str | None = None


@dataclass
class _Found:
    """What discovery has found so far: each unit once, in the order found, and the files skipped."""

    units: list[Unit] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)  # files of an unsupported type
    seen: set[Path] = field(default_factory=set)  # paths of the units found
    walked: set[Path] = field(default_factory=set)  # folders entered (a folder reached twice is walked once)

    def add(self, unit: Unit) -> None:
        if unit.path not in self.seen:
            self.seen.add(unit.path)
            self.units.append(unit)

    def entries(self, folder: Path) -> Iterator[Path]:
        try:
            return iter(sorted(folder.iterdir()))
        except OSError as exc:
            self.add(Unit(folder, refused=f"cannot list the folder: {exc.strerror or exc}"))
            return iter(())

    def visit(self, folder: Path, stack: list[Iterator[Path]]) -> None:
        if folder in self.walked:
            return
        self.walked.add(folder)
        if slack.is_export(folder):
            self.add(Unit(folder, slack_export=True))
        else:
            stack.append(self.entries(folder))

    def walk(self, root: Path) -> None:
        stack: list[Iterator[Path]] = []
        self.visit(root, stack)
        while stack:  # a stack, not recursion: folders may nest deeper than Python's recursion limit
            child = next(stack[-1], None)
            if child is None:
                stack.pop()
                continue
            if child.name.startswith("."):
                continue
            if child.is_symlink():
                target, reason = follow_link(child, root)
                if target is None:
                    self.add(Unit(child, refused=reason))
                    continue
                child = target
            if child.is_dir():
                self.visit(child, stack)
            elif child.suffix.lower() in SUFFIXES or notion.is_database(child):
                self.add(Unit(child))
            elif child.is_file():
                self.skipped.append(child)


def discover(paths: Iterable[Path]) -> tuple[list[Unit], list[Path]]:
    """(units to ingest, files skipped for their extension). Hidden files and folders are skipped.

    Nothing outside a given folder is read: a symbolic link inside it is followed only when it resolves
    inside the same folder (its unit then has the real path, so each file is read once); a link that leads
    out of the folder, back into one of its own parents or into itself becomes a refused unit. A path the
    user names directly is theirs to name and is resolved."""
    found = _Found()
    for raw in paths:
        try:
            path = raw.expanduser().resolve()
        except (OSError, RuntimeError):  # a loop of links (RuntimeError before Python 3.13)
            found.add(Unit(raw, refused="a loop of symbolic links"))
            continue
        if path.is_dir():
            found.walk(path)
        elif path.exists():
            found.add(Unit(path))
        else:
            found.units.append(Unit(path))  # parsing reports "not found" for it
    return found.units, found.skipped


def follow_link(link: Path, root: Path) -> tuple[Path | None, str]:
    """(the real path of a link found under ``root``, "") when it may be read, else (None, why not).
    ``link``'s folder is a real path, so a target back in it or in one of its parents is a loop."""
    try:
        target = link.resolve()
    except (OSError, RuntimeError):
        return None, "a loop of symbolic links: not followed"
    if target != root and root not in target.parents:
        return None, f"a symbolic link to {target}, outside the folder being ingested: not read"
    if target == link.parent or target in link.parent.parents:
        return None, f"a symbolic link loop (back to {target}): not followed"
    if not target.exists():
        return None, f"a broken symbolic link: no such file {target}"
    return target, ""


def unit_hash(unit: Unit, options: ParseOptions) -> str:
    """The content hash records of this unit carry (raises ParseError when unreadable)."""
    if unit.refused:
        raise ParseError(str(unit.path), unit.refused)
    if unit.slack_export:
        return slack.export_hash(unit.path, options)
    if notion.is_page(unit.path) or notion.is_database(unit.path):  # their metadata is in other files too
        return (notion.database_hash if notion.is_database(unit.path) else notion.page_hash)(unit.path, options)
    return content_hash(read_bytes(unit.path, options), options)


def parser_for(unit: Unit, options: ParseOptions) -> Parser:
    if unit.slack_export:
        return slack.parse
    suffix = unit.path.suffix.lower()
    if notion.is_database(unit.path):
        return notion.parse_database
    if notion.is_page(unit.path) and options.kind != Kind.chat:
        return notion.parse
    if suffix in html_page.EXTENSIONS:
        return html_page.parse
    if suffix in docx.EXTENSIONS:
        return docx.parse
    if suffix in markdown.EXTENSIONS:
        if options.kind == Kind.chat:  # read as a chat log: the chat a document quotes, when it quotes one
            head = read_bytes(unit.path, options).decode("utf-8", "ignore")
            return quoted_chat.parse if quoted_chat.has_quoted_chat(head) else markdown.parse
        return markdown.parse
    if suffix in pdf.EXTENSIONS:
        return pdf.parse
    if suffix in incidents.EXTENSIONS:
        return incidents.parse
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
    if unit.refused:
        raise ParseError(str(unit.path), unit.refused)
    if options.redact:
        check_source_name(unit.path)
    if not unit.path.exists():
        raise UnsupportedFile(str(unit.path), "no such file or folder")
    records = parser_for(unit, options)(unit.path, options)
    return [redact_record(record, options.redact) for record in records]
