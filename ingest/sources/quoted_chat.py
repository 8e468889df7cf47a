"""Chat quoted inside a Markdown document: ``>name [1:26 PM]`` blocks, as postmortems paste their Slack channel.

A message starts at a line holding only a speaker and a bracketed time (``>Katharine [9:05 AM]``,
``> liggitt   [07:17 AM]``, ``krzyzacy [5:04 PM]``; the quote mark is optional, the clock 12- or 24-hour)
and runs until the next such line, a heading or a link definition. Quote marks are taken off its lines;
a line quoted twice (``>>name [time]``) is a message quoted inside a message and stays its text. A bracket
that is not a clock (``[3 hours ago]``) starts a message without a time when the line is quoted.

Times carry the day from the file name (``prow-2019-05-30.md``) or, failing that, the document's own date;
a clock that runs backwards by more than twelve hours within one block has passed midnight. Blocks under
different headings (one per channel) are merged in time order, each message keeping its exact span of the
document, so a summary cites the document itself.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from pathlib import Path

from ingest.sources.base import ParseOptions, content_hash, decode_text, finish_record, read_bytes, redact_text, slug
from ingest.sources.transcript import chat_title, date_in_name
from kb.core.errors import ParseError
from kb.core.models import Kind, Message, Record, Section

_HEADER = re.compile(
    r"^[^\S\n]{0,3}(?P<quote>>?)[^\S\n]*(?P<author>[^\s>\[\]][^>\[\]\n]{0,59}?)[^\S\n]+"
    r"\[(?P<stamp>[^\]\n]{1,24})\][^\S\n]*$"
)
_CLOCK = re.compile(r"^(?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2}))?[^\S\n]*(?P<ampm>[AaPp][Mm])?$")
_BLOCK_END = re.compile(r"^[^\S\n]{0,3}(?:#{1,6}[^\S\n]|\[[^\]\n]+\]:[^\S\n])")
#: fewer speaker lines than this is not a quoted chat
MIN_MESSAGES = 2


def clock(stamp: str) -> time | None:
    """'1:26 PM' -> 13:26, '07:16 AM' -> 07:16, '14:05' -> 14:05; None when the bracket is not a clock."""
    match = _CLOCK.match(stamp.strip())
    if not match:
        return None
    hour, minute, second = int(match["h"]), int(match["m"]), int(match["s"] or 0)
    ampm = (match["ampm"] or "").lower()
    if ampm:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ampm == "pm" else 0)
    if hour > 23 or minute > 59 or second > 59:
        return None
    return time(hour, minute, second)


def _header(line: str) -> tuple[str, time | None] | None:
    """(speaker, clock) when the line starts a quoted message."""
    match = _HEADER.match(line)
    if not match:
        return None
    when = clock(match["stamp"])
    if when is None and not match["quote"]:
        return None
    return match["author"].strip(), when


def _unquote(line: str) -> str:
    stripped = line.strip()
    return stripped[1:].strip() if stripped.startswith(">") else stripped


def quoted_messages(text: str, day: date | None) -> list[Message]:
    """The quoted chat messages of a Markdown text, in time order (file order where times tie or lack)."""
    found: list[tuple[datetime | None, Message]] = []
    current: Message | None = None
    previous: datetime | None = None
    offset = 0
    for line in text.splitlines(keepends=True):
        bare = line.rstrip("\r\n")
        head = _header(bare)
        if head is not None:
            author, when = head
            ts = None
            if when is not None and day is not None:
                ts = datetime.combine(day, when)
                while previous is not None and previous - ts > timedelta(hours=12):
                    ts += timedelta(days=1)  # past midnight within the block
                previous = ts
            current = Message(ts=ts, author=author, text="", start=offset, end=offset + len(bare))
            found.append((ts or previous, current))
        elif _BLOCK_END.match(bare):
            if bare.lstrip().startswith("#"):
                previous = None  # a new block (channel) starts its own day
            current = None
        elif current is not None and _unquote(bare):
            current.text = f"{current.text}\n{_unquote(bare)}" if current.text else _unquote(bare)
            current.end = offset + len(bare)
        offset += len(line)
    kept = [(ts, m) for ts, m in found if m.text]
    if any(ts is None for ts, _ in kept):
        return [m for _, m in kept]  # without times the file's order is the only order
    return [m for _, _, m in sorted((ts, n, m) for n, (ts, m) in enumerate(kept))]


def has_quoted_chat(text: str) -> bool:
    """Whether a Markdown text quotes a chat (at least two speaker-and-time lines)."""
    count = 0
    for line in text.splitlines():
        if _header(line) is not None:
            count += 1
            if count >= MIN_MESSAGES:
                return True
    return False


def parse(path: Path, options: ParseOptions) -> list[Record]:
    """One chat record for the chat a Markdown document quotes; its text is the whole document."""
    data = read_bytes(path, options)
    redacted = redact_text(decode_text(path, data), options)
    text = redacted.text
    if not has_quoted_chat(text):
        raise ParseError(str(path), "no quoted chat ('>name [1:26 PM]' lines) found")
    record = finish_record(
        path=path,
        source_key=f"{path}#quoted-chat",
        record_id=slug(path.stem) + "-chat",
        fmt="quoted-chat",
        data_hash=content_hash(data, options),
        text=text,
        sections=[Section(name="chat", heading="quoted chat", start=0, end=len(text))],
        front={"kind": Kind.chat.value},
        title=None,
        redactions=redacted.total,
        options=options,
        default_kind=Kind.chat,
    )
    record.messages = quoted_messages(text, date_in_name(path.name) or record.date)
    if len(record.messages) < MIN_MESSAGES:
        raise ParseError(str(path), "no quoted chat ('>name [1:26 PM]' lines) found")
    record.title = chat_title(path.stem)
    return [record]
