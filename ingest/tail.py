"""Reading a growing chat log a little at a time, for catch-up summaries (``kb.generation.catchup``).

State per log (under ``<data dir>/catchup/``): how far the file was read, and the redacted text and
messages read so far. A re-read starts at the last message read (it may have grown continuation lines),
parses and redacts only what was appended, and gives back the whole chat read so far as a chat record, its
citations' offsets those of the redacted log and its id the one ingesting the file gives it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from ingest.redaction.records import check_source_name
from ingest.sources.base import ParseOptions, redact_text, slug
from ingest.sources.transcript import messages_of
from kb.clients.files import write_atomic
from kb.core.errors import ParseError
from kb.core.models import Kind, Message, Record, Section
from kb.core.settings import Settings


class State(BaseModel):
    path: str
    head: str = ""  # sha of the first KiB: a different file restarts from scratch
    byte_offset: int = 0
    char_offset: int = 0
    text: str = ""  # the redacted log before char_offset
    messages: list[Message] = []  # its messages (offsets in text)


@dataclass
class ChatSoFar:
    """A chat log as read so far."""

    record: Record  # every message read so far, its text the redacted log
    new_messages: int  # how many were appended since the last read


def _state_path(settings: Settings, path: Path) -> Path:
    key = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
    return settings.data_dir / "catchup" / f"{key}.json"


def _load_state(store_path: Path, path: Path) -> State:
    """The saved state, or a fresh one when there is none or it cannot be read (or is of another shape)."""
    if store_path.exists():
        try:
            state = State.model_validate_json(store_path.read_text(encoding="utf-8"))
        except ValueError:
            return State(path=str(path))
        if len(state.text) == state.char_offset:
            return state
    return State(path=str(path))


def _read_new(path: Path, state: State) -> tuple[str, int]:
    """The raw text appended since the state's byte offset (complete lines only) and its length in bytes."""
    with path.open("rb") as f:
        head = hashlib.sha256(f.read(1024)).hexdigest()
        if head != state.head or path.stat().st_size < state.byte_offset:
            state.head, state.byte_offset, state.char_offset, state.text, state.messages = head, 0, 0, "", []
        f.seek(state.byte_offset)
        data = f.read()
    data = data[: data.rfind(b"\n") + 1]
    try:
        return data.decode("utf-8"), len(data)
    except UnicodeDecodeError as exc:
        raise ParseError(str(path), f"not valid UTF-8 at byte {state.byte_offset + exc.start}") from exc


def read_chat(settings: Settings, path: Path) -> ChatSoFar:
    """Read what was appended to a chat log since last time; the chat so far as a record."""
    if not path.is_file():
        raise ParseError(str(path), "no such chat log")
    options = ParseOptions(redact=settings.redact)
    check_source_name(path, settings.redact)  # its path is kept in the catch-up state
    store_path = _state_path(settings, path)
    state = _load_state(store_path, path)
    raw, _size = _read_new(path, state)
    match = re.search(r"(\d{4})-(\d{2})-(\d{2})", path.name)
    try:
        day = dt.date(*map(int, match.groups())) if match else None
    except ValueError:  # '2024-13-45' is not a day
        day = None
    raw_messages = messages_of(raw, day)
    text = redact_text(raw, options).text
    messages = messages_of(text, day)
    if len(messages) != len(raw_messages):  # redaction never joins or splits lines; be safe anyway
        raw_messages = messages
    for m in messages:
        m.start += state.char_offset
        m.end += state.char_offset
    before = len(state.messages)
    so_far = state.text + text
    everything = state.messages + messages
    if messages:  # the last message may still grow (continuation lines): the next run reads it again
        state.byte_offset += len(raw[: raw_messages[-1].start].encode("utf-8"))
        state.char_offset = messages[-1].start
        state.text = so_far[: state.char_offset]
        state.messages = everything[:-1]
    store_path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(store_path, state.model_dump_json())
    record = Record(
        id=slug(path.stem),
        kind=Kind.chat,
        title=path.name,
        source_path=str(path),
        source_key=str(path),
        format="transcript",
        content_hash=hashlib.sha256(so_far.encode("utf-8", "surrogatepass")).hexdigest(),
        text=so_far,
        sections=[Section(name="chat", heading="", start=0, end=len(so_far))],
        messages=everything,
    )
    # the re-read last message is not new
    return ChatSoFar(record, max(0, len(everything) - before - (1 if before else 0)))
