"""Chat logs read from an uploaded file for a one-off summary, never stored.

The upload goes into a temporary folder through ``ingest.uploads`` (safe names, the size limit, zip
archives checked member by member, so a Slack export can come as a zip), and is parsed there by the
ingest parsers (``ingest.sources``: transcripts, Markdown that quotes its chat, Slack exports), every field
redacted; the folder is gone when this returns. Only what the user ingests on purpose is stored.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ingest.sources import Unit, discover, parse_unit
from ingest.sources.base import ParseOptions, read_bytes
from ingest.uploads import save_uploads
from kb.core.bounded import Refused, load_json
from kb.core.errors import KBError, ParseError
from kb.core.models import Kind, Record
from kb.core.settings import Settings

#: errors listed for one upload (a zip of many bad files says enough with these)
MAX_ERRORS = 8


@dataclass
class UploadedChats:
    """The chat logs found in one upload, most messages first, and what could not be read."""

    records: list[Record] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # "<upload name>[: <member>]: <why>"


def chat_options(settings: Settings) -> ParseOptions:
    """How a chat log given by path or upload is read: as a chat, redacted, within the file size limit."""
    return ParseOptions(
        redact=settings.redact, kind=Kind.chat, known_services=set(), max_bytes=int(settings.max_file_mb * 1024 * 1024)
    )


def read_chats(path: Path, settings: Settings) -> tuple[list[Record], list[KBError]]:
    """The chat logs in the file or folder ``path``, most messages first, and the files of a folder that could not
    be read (one bad file in a folder does not stop the others; a single file that cannot be read raises)."""
    units, _skipped = discover([path])
    options = chat_options(settings)
    records: list[Record] = []
    failed: list[KBError] = []
    for unit in units:
        try:
            records += _chats(unit, options)
        except KBError as exc:
            if len(units) == 1:
                raise
            failed.append(exc)
    records.sort(key=lambda r: -len(r.messages))
    return records, failed


def _chats(unit: Unit, options: ParseOptions) -> list[Record]:
    return [r for r in parse_unit(unit, options) if r.messages]


def read_uploaded_chats(name: str, data: bytes, settings: Settings) -> UploadedChats:
    """The chat logs in the uploaded file ``name`` (its bytes ``data``): a transcript, a Markdown postmortem
    quoting its chat, or a zip (a Slack export, or transcripts). Each error names the upload (and the member
    of a zip) and the reason."""
    options = chat_options(settings)
    found = UploadedChats()
    with tempfile.TemporaryDirectory(prefix="kb-chat-") as tmp:
        folder = Path(tmp).resolve()
        saved = save_uploads(folder, [(name, data)], options.max_bytes)
        found.errors += [f"{upload}: {why}" for upload, why in saved.refused]
        if not saved.files:
            return found
        units, skipped = discover([folder])
        for path in skipped:
            found.errors.append(_named(name, folder, path, _why_skipped(path, options)))
        for unit in units:
            try:
                records = _chats(unit, options)
            except ParseError as exc:
                found.errors.append(_named(name, folder, Path(exc.path), exc.reason))
                continue
            except KBError as exc:
                found.errors.append(f"{name}: {exc}")
                continue
            if not records:
                found.errors.append(_named(name, folder, unit.path, "no chat messages found"))
            found.records += records
    found.records.sort(key=lambda r: -len(r.messages))
    if len(found.errors) > MAX_ERRORS:
        found.errors[MAX_ERRORS:] = [f"{name}: and {len(found.errors) - MAX_ERRORS} more files that cannot be read"]
    return found


def _named(name: str, folder: Path, path: Path, reason: str) -> str:
    """An error as the user knows the file: the upload's name, then the member's path inside a zip."""
    try:
        parts = path.resolve().relative_to(folder).parts
    except (OSError, ValueError):
        parts = ()
    member = "/".join(parts[1:])  # parts[0] is the saved upload, or the folder a zip was unpacked into
    return f"{name}: {member}: {reason}" if member else f"{name}: {reason}"


def _why_skipped(path: Path, options: ParseOptions) -> str:
    """Why a file found in the upload is not read as a chat log: a lone JSON file (broken, or one file of a
    Slack export), or a type no parser reads."""
    if path.suffix.lower() != ".json":
        return f"unsupported file type '{path.suffix or 'no extension'}'"
    try:
        load_json(read_bytes(path, options).decode("utf-8-sig"), path.name)
    except ParseError as exc:
        return exc.reason
    except UnicodeDecodeError as exc:
        return f"not valid UTF-8 (bad byte at offset {exc.start})"
    except json.JSONDecodeError as exc:
        return f"broken JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
    except (Refused, ValueError) as exc:
        return f"unreadable JSON: {exc}"
    return ("one JSON file is not a chat log: upload the whole Slack export as a zip (users.json, channels.json "
            "and a folder per channel)")
