"""Plain chat transcripts: ``[timestamp] name: message`` lines; indented lines continue a message."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

from ingest.sources.base import (
    ParseOptions,
    content_hash,
    decode_text,
    finish_record,
    read_bytes,
    redact_text,
    slug,
)
from kb.core.errors import ParseError
from kb.core.models import Kind, Message, Record, Section

EXTENSIONS = (".txt", ".log", ".chat")
LINE_RE = re.compile(r"^\[(?P<ts>[^\]\n]{4,40})\]\s+(?P<author>[^:\n]{1,60}?):\s?(?P<text>.*)$")
_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%Y/%m/%d %H:%M:%S",
)
_TIME_ONLY = ("%H:%M:%S", "%H:%M")
_DATE_IN_NAME = re.compile(r"(20\d\d)-(\d\d)-(\d\d)")


def looks_like_transcript(text: str) -> bool:
    """True when most non-blank, non-indented lines are ``[ts] name: text``."""
    lines = [ln for ln in text.splitlines()[:200] if ln.strip() and not ln.startswith((" ", "\t"))]
    if len(lines) < 2:
        return False
    return sum(1 for ln in lines if LINE_RE.match(ln)) >= 0.6 * len(lines)


def parse_ts(value: str, day: date | None) -> datetime | None:
    value = value.strip().removesuffix("Z").removesuffix(" UTC")
    try:
        # the time as written: a line with an offset next to lines without one must still compare with them
        return datetime.fromisoformat(value).replace(tzinfo=None)
    except ValueError:
        pass
    for fmt in _FORMATS:
        try:
            return datetime.strptime(value, fmt)
        except ValueError:
            continue
    for fmt in _TIME_ONLY:
        try:
            t = datetime.strptime(value, fmt).time()
        except ValueError:
            continue
        return datetime.combine(day, t) if day else None
    return None


def date_in_name(name: str) -> date | None:
    """The date a file name starts or ends with ('2024-05-14-outage.log'); None when there is none or it
    is not a real day ('2024-13-45')."""
    match = _DATE_IN_NAME.search(name)
    try:
        return date(*map(int, match.groups())) if match else None
    except ValueError:
        return None


def messages_of(text: str, day: date | None) -> list[Message]:
    messages: list[Message] = []
    offset = 0
    for line in text.splitlines(keepends=True):
        stripped = line.rstrip("\n")
        match = LINE_RE.match(stripped)
        if match:
            messages.append(
                Message(
                    ts=parse_ts(match.group("ts"), day),
                    author=match.group("author").strip(),
                    text=match.group("text"),
                    start=offset,
                    end=offset + len(stripped),
                )
            )
        elif messages and stripped.strip():
            last = messages[-1]
            last.text += "\n" + stripped.strip()
            last.end = offset + len(stripped)
        offset += len(line)
    return messages


def chat_title(stem: str) -> str:
    """'2024-05-14-payflow-outage' -> 'Chat log 2024-05-14: payflow outage'."""
    match = re.match(r"^(\d{4}-\d{2}-\d{2})[-_ ]*(.*)$", stem)
    if match:
        rest = re.sub(r"[-_]+", " ", match.group(2)).strip()
        return f"Chat log {match.group(1)}: {rest}" if rest else f"Chat log {match.group(1)}"
    return "Chat log: " + re.sub(r"[-_]+", " ", stem)


def parse(path: Path, options: ParseOptions) -> list[Record]:
    """One chat record for one transcript file."""
    data = read_bytes(path, options)
    redacted = redact_text(decode_text(path, data), options)
    text = redacted.text
    day = date_in_name(path.name)
    messages = messages_of(text, day)
    if not messages:
        raise ParseError(str(path), "no '[timestamp] name: message' lines found")
    record = finish_record(
        path=path,
        source_key=str(path),
        record_id=slug(path.stem),
        fmt="transcript",
        data_hash=content_hash(data, options),
        text=text,
        sections=[Section(name="chat", heading="messages", start=0, end=len(text))],
        front={"kind": (options.kind or Kind.chat).value},
        title=None,
        redactions=redacted.total,
        options=options,
        default_kind=Kind.chat,
    )
    record.messages = messages
    record.title = chat_title(path.stem)
    if messages[0].ts:
        record.date = messages[0].ts.date()
    return [record]
