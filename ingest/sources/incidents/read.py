"""Reading an export file: JSON through the bounded loader, CSV through the csv module (the delimiter found
by ``csv.Sniffer``), with limits on what one file may hold, and small helpers the tool readers share."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kb.core.bounded import Refused, load_json
from kb.core.errors import ParseError

#: more incidents (or CSV rows) than this in one file are refused: split the export
MAX_INCIDENTS = 5000
MAX_ROWS = 50_000


def json_data(path: Path, text: str) -> Any:
    """The file's JSON, or a ParseError naming the line and column where it breaks."""
    try:
        return load_json(text, "the JSON")
    except json.JSONDecodeError as exc:
        raise ParseError(str(path), f"broken JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    except Refused as exc:
        raise ParseError(str(path), str(exc)) from exc
    except ValueError as exc:  # a number longer than int() converts
        raise ParseError(str(path), f"unreadable JSON: {exc}") from exc


def norm(name: str) -> str:
    """A column name compared by its letters and digits only: 'Component/s' -> 'components'."""
    return "".join(c for c in name.lower() if c.isalnum())


@dataclass
class Table:
    """A CSV file: its header as written (names may repeat, as Jira writes them) and its rows."""

    header: list[str]
    rows: list[list[str]]

    @property
    def names(self) -> set[str]:
        return {norm(h) for h in self.header}

    def values(self, row: list[str], *names: str) -> list[str]:
        """Every non-empty value of the columns with these names (compared by ``norm``), in column order."""
        wanted = {norm(n) for n in names}
        return [v.strip() for h, v in zip(self.header, row, strict=False) if norm(h) in wanted and v.strip()]

    def value(self, row: list[str], *names: str) -> str:
        """The first non-empty value among the columns with these names, in the order the names are given."""
        for name in names:
            found = self.values(row, name)
            if found:
                return found[0]
        return ""


def sniffed(text: str) -> str:
    """The delimiter ``csv.Sniffer`` finds in the start of ``text`` (',' when it finds none)."""
    try:
        return csv.Sniffer().sniff(text[:65536], delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def table(path: Path, text: str, delimiter: str = ",") -> Table:
    """The CSV in ``text``, or a ParseError naming the line where it breaks."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows: list[list[str]] = []
    try:
        header = next(reader, [])
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            rows.append(row)
            if len(rows) > MAX_ROWS:
                raise ParseError(str(path), f"more than {MAX_ROWS} rows; split the export")
    except csv.Error as exc:
        raise ParseError(str(path), f"broken CSV at line {reader.line_num}: {exc}") from exc
    if not header:
        raise ParseError(str(path), "no header row: not a CSV export")
    return Table([h.strip().lstrip("\ufeff") for h in header], rows)


def text_of(value: object) -> str:
    """A scalar as text ('' for None, lists and objects)."""
    if value is None or isinstance(value, (dict, list)):
        return ""
    return str(value).strip()


def name_of(value: object) -> str:
    """The name a tool gives a reference object ({"summary"}, {"name"}, {"displayName"}, {"login"}) or a string."""
    if isinstance(value, dict):
        for key in ("summary", "name", "displayName", "display_name", "login", "full_name", "username", "email"):
            if text_of(value.get(key)):
                return text_of(value.get(key))
        return ""
    return text_of(value)


def obj(value: object) -> dict[str, Any]:
    """A JSON object, or an empty one for anything else."""
    return value if isinstance(value, dict) else {}


def dicts(value: object) -> list[dict[str, Any]]:
    """The objects in a JSON list (anything else in it is left out)."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def bounded(path: Path, found: list[Any]) -> list[Any]:
    if len(found) > MAX_INCIDENTS:
        raise ParseError(str(path), f"holds {len(found)} incidents, over the limit of {MAX_INCIDENTS}; split it")
    return found


def prefixed(labels: list[str], *prefixes: str) -> list[str]:
    """The values of labels written 'prefix:value' or 'prefix/value' ('service:checkout' -> 'checkout')."""
    out: list[str] = []
    for label in labels:
        for sep in (":", "/", "="):
            head, _, tail = label.partition(sep)
            if tail.strip() and head.strip().lower() in prefixes and tail.strip() not in out:
                out.append(tail.strip())
                break
    return out
