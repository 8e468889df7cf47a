"""Notion exports ("Export -> Markdown & CSV", unzipped): pages named ``Title <32-hex id>.md`` and databases
named ``Name <32-hex id>.csv`` (``..._all.csv`` holds every property), each database's row pages in the
folder ``Name <32-hex id>/`` beside its CSV.

A page's properties block (the ``Property: value`` lines under its title) becomes its metadata: date,
owner, tags, severity, services and kind where a property means one of them, every property kept as front
matter. A page that is a database row also takes the row's columns from the CSV. A row that has no page
of its own becomes a record of its own, its columns as metadata and text. Pages then take the Markdown
path; the id in a file name is left out of titles and record ids.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from ingest.extract import loose_date
from ingest.sources.base import ParseOptions, content_hash, decode_text, finish_record, read_bytes, redact_text, slug
from ingest.sources.converted import markdown_record
from kb.core.enums import SectionName
from kb.core.errors import ParseError
from kb.core.models import Record, Section

_NAMED = re.compile(r"^(?P<title>.+?) (?P<id>[0-9a-f]{32})(?P<all>_all)?$")
#: a property line: a short name, a colon and a value (Notion writes one per property under the title)
_PROPERTY = re.compile(r"^(?P<name>[^\s:#>|`*\-][^:\n]{0,60}?):[ \t]+(?P<value>\S[^\n]*)$")
#: property names that mean one of our fields, most specific first within each field
_MEANINGS = {
    "date": ("date", "incident date", "incident start", "started", "start date", "created", "created time",
             "date created", "last edited time", "last edited", "updated"),
    "owner": ("owner", "author", "incident commander", "created by", "assignee", "assigned to", "responsible"),
    "tags": ("tags", "labels", "label", "categories", "topics", "keywords"),
    "severity": ("severity", "sev", "priority"),
    "services": ("services", "service", "components", "component", "systems", "affected services"),
    "kind": ("kind", "type", "document type"),
}  # fmt: skip
MAX_ROWS = 10_000


def _named(path: Path) -> re.Match[str] | None:
    return _NAMED.match(path.stem)


def is_page(path: Path) -> bool:
    """A Markdown page of a Notion export (its name ends in a 32-hex id)."""
    return path.suffix.lower() == ".md" and _named(path) is not None


def is_database(path: Path) -> bool:
    """A database CSV of a Notion export."""
    return path.suffix.lower() == ".csv" and _named(path) is not None


def _plain(title: str) -> str:
    return " ".join(title.split())


def _same_title(title: str) -> str:
    """A title as compared between a CSV row and a file name: Notion leaves characters such as ``:`` and
    ``/`` out of file names, and an upload's safe name replaces others, so letters and digits only."""
    return re.sub(r"[\W_]+", "", title.casefold())


def properties(rows: dict[str, str]) -> dict[str, object]:
    """Front matter from Notion properties: every property under its own name (lowercase, underscores), and
    our fields (date, owner, tags, severity, services, kind) from the properties that mean them."""
    front: dict[str, object] = {}
    named = {" ".join(k.lower().split()): v.strip() for k, v in rows.items() if k and v and v.strip()}
    for key, written in named.items():
        front[re.sub(r"\W+", "_", key).strip("_") or "property"] = written
    for field, names in _MEANINGS.items():
        value = next((named[n] for n in names if n in named), None)
        if value is None:
            continue
        if field == "date":
            when = loose_date(value)
            if when:
                front["date"] = when.isoformat()
        elif field in {"tags", "services"}:
            front[field] = [v.strip() for v in re.split(r"[,;]", value) if v.strip()]
        else:
            front[field] = value
    if "owner" in front:
        front["author"] = front["owner"]
    return front


def split_properties(text: str) -> tuple[str, dict[str, str]]:
    """(the page without its properties block, the properties): the ``Name: value`` lines that follow the
    ``# Title`` line up to the first blank line."""
    lines = text.split("\n")
    at = 0
    while at < len(lines) and not lines[at].strip():
        at += 1
    if at < len(lines) and lines[at].startswith("# "):
        at += 1
    while at < len(lines) and not lines[at].strip():
        at += 1
    end = at
    found: dict[str, str] = {}
    while end < len(lines) and lines[end].strip():
        match = _PROPERTY.match(lines[end].strip())
        if not match:
            return text, {}  # not a properties block: a paragraph of the page
        found.setdefault(match.group("name").strip(), match.group("value").strip())
        end += 1
    if not found:
        return text, {}
    return "\n".join(lines[:at] + lines[end + 1 :]), found


def parse(path: Path, options: ParseOptions) -> list[Record]:
    """One record for one page of a Notion export."""
    data = read_bytes(path, options)
    text = decode_text(path, data)
    named = _named(path)
    title = _plain(named.group("title")) if named else path.stem
    body, props = split_properties(text)
    row, table = _database_row(path, title, options)
    front = properties({**row, **props})
    database = _named(path.parent)
    if database and "kind" not in front:
        front.update(_database_kind(database.group("title")))
    heading = re.match(r"\s*# ([^\n]+)", body)
    front["title"] = heading.group(1).strip() if heading else title
    if named:
        front["notion_id"] = named.group("id")
    digest = content_hash(data + b"\0" + table, options)
    return [
        markdown_record(
            path=path,
            data=data,
            body=body,
            front=front,
            fmt="notion",
            options=options,
            record_id=title,
            data_hash=digest,
        )
    ]


def page_hash(path: Path, options: ParseOptions) -> str:
    """A page's content hash: its bytes and its database's, whose row is part of its metadata."""
    named = _named(path)
    title = _plain(named.group("title")) if named else path.stem
    return content_hash(read_bytes(path, options) + b"\0" + _database_row(path, title, options)[1], options)


def database_hash(path: Path, options: ParseOptions) -> str:
    """A database's content hash: its bytes and the titles of its row pages (rows with a page are not records)."""
    pages = "\n".join(sorted(_page_titles(path))).encode()
    return content_hash(read_bytes(path, options) + b"\0" + pages, options)


#: database names that say what their pages are (a database of "Incidents" holds postmortems)
_DATABASE_KINDS = {
    "incident": "postmortem", "postmortem": "postmortem", "post-mortem": "postmortem", "retro": "postmortem",
    "rca": "postmortem", "runbook": "runbook", "playbook": "runbook", "sop": "runbook",
}  # fmt: skip


def _database_kind(name: str) -> dict[str, object]:
    """{"kind": ...} when the database's name (its last word, singular) says what its pages are."""
    words = name.lower().split()
    last = words[-1].removesuffix("s") if words else ""
    return {"kind": _DATABASE_KINDS[last]} if last in _DATABASE_KINDS else {}


def _rows(path: Path, options: ParseOptions) -> list[dict[str, str]]:
    """The rows of a database CSV as {column: value}; ParseError when it is no CSV table."""
    text = decode_text(path, read_bytes(path, options))
    try:
        rows = []
        for row in csv.DictReader(io.StringIO(text)):
            rows.append({str(k): str(v or "") for k, v in row.items() if k is not None})
            if len(rows) > MAX_ROWS:
                raise ParseError(str(path), f"more than {MAX_ROWS} rows")
    except csv.Error as exc:
        raise ParseError(str(path), f"not a readable CSV table ({exc})") from exc
    return rows


def _title_column(rows: list[dict[str, str]]) -> str:
    """Notion writes the title property first ("Name" unless renamed)."""
    return next(iter(rows[0])) if rows and rows[0] else "Name"


def _database_row(page: Path, title: str, options: ParseOptions) -> tuple[dict[str, str], bytes]:
    """(the row of the database a page belongs to, the database's bytes): the CSV beside the page's folder,
    or ({}, b"") for a page of no database."""
    folder = page.parent
    for name in (f"{folder.name}_all.csv", f"{folder.name}.csv"):
        table = folder.parent / name
        if _named(folder) is None or not table.is_file():
            continue
        try:
            data = read_bytes(table, options)
            rows = _rows(table, options)
        except ParseError:
            return {}, b""  # the table reports its own error when it is ingested
        column = _title_column(rows)
        for row in rows:
            if _same_title(row.get(column, "")) == _same_title(title):
                return {k: v for k, v in row.items() if k != column}, data
        return {}, data
    return {}, b""


def _page_titles(table: Path) -> set[str]:
    """Titles of the row pages in the folder beside a database CSV."""
    named = _named(table)
    folder = table.parent / (f"{named.group('title')} {named.group('id')}" if named else table.stem)
    if not folder.is_dir():
        return set()
    titles = set()
    for page in folder.glob("*.md"):
        match = _named(page)
        titles.add(_same_title(match.group("title") if match else page.stem))
    return titles


def parse_database(path: Path, options: ParseOptions) -> list[Record]:
    """A record for each row of a database CSV that has no page of its own (a row with a page is that
    page's metadata). Of a database exported twice (``Name.csv`` and ``Name_all.csv``), the ``_all`` one."""
    named = _named(path)
    if named and not named.group("all") and path.with_name(f"{path.stem}_all.csv").is_file():
        return []
    rows = _rows(path, options)
    if not rows:
        raise ParseError(str(path), "no rows in this Notion database export")
    column = _title_column(rows)
    pages = _page_titles(path)
    database = _plain(named.group("title")) if named else path.stem
    digest = database_hash(path, options)
    records = []
    for row in rows:
        title = _plain(row.get(column, ""))
        if not title or _same_title(title) in pages:
            continue
        columns = {k: v for k, v in row.items() if k != column}
        records.append(_row_record(path, digest, database, title, columns, options))
    return records


def _row_record(
    path: Path, digest: str, database: str, title: str, row: dict[str, str], options: ParseOptions
) -> Record:
    """One database row as a document: its title as heading, its columns as ``Name: value`` lines."""
    lines = [f"{name}: {' '.join(value.split())}" for name, value in row.items() if value.strip()]
    raw = f"# {title}\n\n" + "\n".join(lines) + "\n"
    redacted = redact_text(raw, options)
    text = redacted.text
    front = properties(row)
    if "kind" not in front:
        front.update(_database_kind(database))
    front["title"] = title
    front["database"] = database
    heading_end = text.find("\n") + 1
    sections = [Section(name=SectionName.body, heading=title, start=0, end=len(text))] if heading_end else []
    return finish_record(
        path=path,
        source_key=f"{path}#{title}",
        record_id=slug(title),
        fmt="notion",
        data_hash=digest,
        text=text,
        sections=sections,
        front=front,
        title=title,
        redactions=redacted.total,
        options=options,
    )
