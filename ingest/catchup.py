"""Catch-up summaries of a running incident's chat log, reading only what was appended since last time.

State per log (under ``<data dir>/catchup/``): how far the file was read, and the classified messages so
far. A re-run reads from the start of the last message read (it may have grown continuation lines),
classifies the new messages with the same cues as ``kb.generation.summary``, and writes what happened so far (or
since a time): current status, actions taken, open questions, who is doing what, each line citing its
message (character span in the redacted log). A message that speaks to an AI or carries markup is never a
line: it is listed as dropped (``kb.generation.guard``); a line with a dangerous command carries a caution.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel

from ingest.redaction.records import check_source_name
from ingest.sources.base import ParseOptions, redact_text
from ingest.sources.transcript import messages_of
from kb.core.errors import ParseError
from kb.core.models import Citation, Kind, Record, Section
from kb.core.settings import Settings
from kb.generation.guard import caution_note, cautions, prepare, refusal
from kb.generation.summary import classify

DOING = re.compile(r"\b(i'?m (?:on|looking|checking|taking|rolling|restarting|paging|working)|i'?ll |on it|"
                   r"looking (?:at|into)|taking (?:the|a) look|checking)\b", re.I)
BOTS = {"alertmanager", "pagerduty", "argocd", "opsgenie", "grafana", "prometheus", "statuspage", "slackbot"}


class Fact(BaseModel):
    ts: dt.datetime | None
    author: str
    text: str
    kind: str | None
    question: bool
    doing: bool
    start: int
    end: int
    quote: str = ""  # the cited text exactly as in the (redacted) log; ``text`` may be shortened or joined


class State(BaseModel):
    path: str
    head: str = ""  # sha of the first KiB: a different file restarts from scratch
    byte_offset: int = 0
    char_offset: int = 0
    facts: list[Fact] = []


@dataclass
class CatchUp:
    path: str
    new_messages: int
    total_messages: int
    lines: list[tuple[str, str, Citation]] = field(default_factory=list)  # (section, text, citation)
    dropped: list[tuple[str, str]] = field(default_factory=list)  # (message text, why it is not a line)

    @property
    def markdown(self) -> str:
        out = [f"# Catch-up: {Path(self.path).name}", "",
               f"{self.total_messages} messages ({self.new_messages} new since the last catch-up). "
               "Every line quotes its message.", ""]
        for section in ("status", "actions taken", "open questions", "who is doing what"):
            out += [f"## {section.capitalize()}", ""]
            chosen = [(t, c) for s, t, c in self.lines if s == section]
            out += [f"- {t} [{c.start}-{c.end}]" + (f" {caution_note(cautions(t))}" if cautions(t) else "")
                    for t, c in chosen] or ["- nothing yet"]
            out.append("")
        if self.dropped:
            out += ["## Dropped", ""]
            out += [f"- {text[:160]!r}: {reason}" for text, reason in self.dropped]
            out.append("")
        return "\n".join(out)

    def as_json(self) -> dict[str, object]:
        return {
            "path": self.path,
            "messages": self.total_messages,
            "new_messages": self.new_messages,
            "items": [{"section": s, "text": t, "citations": [c.model_dump()], "cautions": cautions(t)}
                      for s, t, c in self.lines],
            "dropped": [{"text": text, "reason": reason} for text, reason in self.dropped],
            "markdown": self.markdown,
        }


def _state_path(settings: Settings, path: Path) -> Path:
    key = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
    return settings.data_dir / "catchup" / f"{key}.json"


def _read_new(path: Path, state: State) -> tuple[str, int]:
    """The raw text appended since the state's byte offset (complete lines only) and its length in bytes."""
    with path.open("rb") as f:
        head = hashlib.sha256(f.read(1024)).hexdigest()
        if head != state.head or path.stat().st_size < state.byte_offset:
            state.head, state.byte_offset, state.char_offset, state.facts = head, 0, 0, []
        f.seek(state.byte_offset)
        data = f.read()
    data = data[: data.rfind(b"\n") + 1]
    try:
        return data.decode("utf-8"), len(data)
    except UnicodeDecodeError as exc:
        raise ParseError(str(path), f"not valid UTF-8 at byte {state.byte_offset + exc.start}") from exc


def catch_up(settings: Settings, path: Path, since: dt.datetime | str | None = None) -> CatchUp:
    """Read what was appended to a chat log since last time and summarise the incident so far."""
    if not path.is_file():
        raise ParseError(str(path), "no such chat log")
    options = ParseOptions(redact=settings.redact)
    check_source_name(path, settings.redact)  # its path is kept in the catch-up state
    store_path = _state_path(settings, path)
    state = State(path=str(path))
    if store_path.exists():
        try:
            state = State.model_validate_json(store_path.read_text(encoding="utf-8"))
        except ValueError:
            state = State(path=str(path))
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
    before = len(state.facts)
    record = Record(id=path.stem, kind=Kind.chat, title=path.name, source_path=str(path), source_key=str(path),
                    format="transcript", content_hash="", text=" " * state.char_offset + text,
                    sections=[Section(name="chat", heading="", start=0, end=state.char_offset + len(text))],
                    messages=messages)
    new_facts = []
    for fact in classify(record):
        first = fact.message.text.split("\n", 1)[0]
        new_facts.append(Fact(ts=fact.message.ts, author=fact.message.author, text=fact.text, kind=fact.kind,
                              question="?" in first, doing=bool(DOING.search(first)),
                              start=fact.start, end=fact.end, quote=record.text[fact.start : fact.end][:240]))
    facts = state.facts + new_facts
    if messages:  # the last message may still grow (continuation lines): the next run reads it again
        state.byte_offset += len(raw[: raw_messages[-1].start].encode("utf-8"))
        state.char_offset = messages[-1].start
        state.facts = facts[:-1]
    store_path.parent.mkdir(parents=True, exist_ok=True)
    store_path.write_text(state.model_dump_json(), encoding="utf-8")
    carried = before  # facts known before this run (the re-read last message is not new)
    return _summarise(path, facts, max(0, len(facts) - carried - (1 if before else 0)), _resolve_since(since, facts))


def _resolve_since(since: dt.datetime | str | None, facts: list[Fact]) -> dt.datetime | None:
    if since is None or isinstance(since, dt.datetime):
        return since
    hh, mm = (int(x) for x in since.split(":")[:2])
    day = next((f.ts.date() for f in facts if f.ts), dt.date.today())
    return dt.datetime.combine(day, dt.time(hh, mm))


def _summarise(path: Path, facts: list[Fact], new: int, since: dt.datetime | None) -> CatchUp:
    result = CatchUp(path=str(path), new_messages=new, total_messages=len(facts))
    kept = []
    prepare(f.text for f in facts if f.kind or f.question or f.doing)
    for f in facts:
        why = refusal(f.text) if f.kind or f.question or f.doing else None  # only those a line may show
        if why:
            result.dropped.append((f.text, why))
        else:
            kept.append(f)
    facts = kept
    window = [f for f in facts if since is None or (f.ts and f.ts >= since)]

    def cite(f: Fact) -> Citation:
        return Citation(doc_id=f"file:{path.name}", section="chat", start=f.start, end=f.end,
                        quote=f.quote or f.text[:240])

    def when(f: Fact) -> str:
        return f.ts.strftime("%H:%M") if f.ts else ""

    state_facts = [f for f in facts if f.kind in ("detection", "mitigation", "resolution")]
    if state_facts:
        latest = state_facts[-1]
        status = {"resolution": "resolved", "mitigation": "mitigating", "detection": "ongoing"}[latest.kind or ""]
        result.lines.append(("status", f"{status} as of {when(latest)}: {latest.text}", cite(latest)))
    first = next((f for f in facts if f.kind == "detection"), None)
    if first is not None:
        result.lines.append(("status", f"started {when(first)}: {first.text}", cite(first)))
    for f in [f for f in window if f.kind == "action"][-6:]:
        result.lines.append(("actions taken", f"{when(f)} {f.author}: {f.text}", cite(f)))
    questions = [f for f in window if f.question and f.author.lower() not in BOTS]
    for f in questions[-3:]:
        after = facts[facts.index(f) + 1 : facts.index(f) + 3]
        answered = any(g.author != f.author for g in after)
        label = "" if not answered else " (answered?)"
        result.lines.append(("open questions", f"{when(f)} {f.author}: {f.text}{label}", cite(f)))
    latest_by_author: dict[str, Fact] = {}
    for f in window:
        if f.author.lower() not in BOTS and (f.doing or f.kind == "action"):
            latest_by_author[f.author] = f
    for author, f in sorted(latest_by_author.items()):
        result.lines.append(("who is doing what", f"{author}: {f.text}", cite(f)))
    return result
