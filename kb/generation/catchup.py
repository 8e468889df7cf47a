"""Catch-up summaries of a running incident's chat log, for someone joining it.

Given the chat record read so far (``ingest.tail`` reads only what was appended since last time), the
messages are judged by meaning as ``kb.generation.summary`` judges them (``kb.retrieval.cues``), and what
happened so far (or since a time) is written out: current status, actions taken, open questions, who is
doing what, each line citing its message (a character span of the redacted log, cited by the record's id as
every other citation is). A message that speaks to an AI or carries markup is never a line: it is listed as
dropped (``kb.generation.guard``); a line with a dangerous command carries a caution.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pydantic import BaseModel, Field

from kb.core.enums import MessageKind
from kb.core.models import Citation, DraftItem, DroppedItem, Record
from kb.generation.guard import caution_note, cautions, prepare, refusal
from kb.generation.summary import Fact, classify, is_bot

SECTIONS = ("status", "actions taken", "open questions", "who is doing what")
#: what the latest message of each kind says of the incident's state
STATUS = {MessageKind.recovery: "resolved", MessageKind.made_worse: "ongoing",
          MessageKind.report: "ongoing"}
#: kinds that show someone working on the incident
DOING = (MessageKind.action, MessageKind.decision, MessageKind.observation, MessageKind.hypothesis)


class CatchUp(BaseModel):
    """What happened so far in a chat log, each line citing its message."""

    path: str = Field(description="The chat log.")
    new_messages: int = Field(description="Messages appended since the last catch-up.")
    total_messages: int = Field(description="Messages read so far.")
    items: list[DraftItem] = Field(default_factory=list, description="The lines, by section (see SECTIONS).")
    dropped: list[DroppedItem] = Field(default_factory=list, description="Messages no line may show, and why.")

    @property
    def markdown(self) -> str:
        out = [
            f"# Catch-up: {Path(self.path).name}",
            "",
            f"{self.total_messages} messages ({self.new_messages} new since the last catch-up). "
            "Every line quotes its message.",
            "",
        ]
        for section in SECTIONS:
            out += [f"## {section.capitalize()}", ""]
            out += [
                f"- {i.text} [{i.citations[0].start}-{i.citations[0].end}]"
                + (f" {caution_note(i.cautions)}" if i.cautions else "")
                for i in self.items
                if i.section == section
            ] or ["- nothing yet"]
            out.append("")
        if self.dropped:
            out += ["## Dropped", ""]
            out += [f"- {d.text[:160]!r}: {d.reason}" for d in self.dropped]
            out.append("")
        return "\n".join(out)

    def as_json(self) -> dict[str, object]:
        """The documented ``--json`` shape."""
        return {
            "path": self.path,
            "messages": self.total_messages,
            "new_messages": self.new_messages,
            "items": [i.model_dump(exclude_none=True) for i in self.items],
            "dropped": [d.model_dump() for d in self.dropped],
            "markdown": self.markdown,
        }


def _first_line(fact: Fact) -> str:
    return fact.message.text.split("\n", 1)[0]


def _question(fact: Fact) -> bool:
    return "?" in _first_line(fact)


def _doing(fact: Fact) -> bool:
    return fact.kind in DOING


def _shown(fact: Fact) -> bool:
    """Whether a line may show this message (only those are checked by the guard)."""
    return bool(fact.kind) or _question(fact) or _doing(fact)


def state_of(fact: Fact) -> str | None:
    """What a message says of the incident's state: what one of its sentences clearly says, or what it says
    whole when it is one sentence or a sentence agrees. A handover or wrap-up of several sentences that reads
    like a report as a whole, while none of its sentences reports anything, says nothing of the state."""
    said = [k for k in STATUS if k in fact.said]
    if fact.kind in STATUS and (fact.kind in said or fact.sentences == 1):
        return STATUS[fact.kind]
    return STATUS[said[0]] if said else None


def resolve_since(since: dt.datetime | str | None, facts: list[Fact]) -> dt.datetime | None:
    """``since`` as a time: a clock time (HH:MM) is taken on the log's own day."""
    if since is None or isinstance(since, dt.datetime):
        return since
    hh, mm = (int(x) for x in since.split(":")[:2])
    day = next((f.message.ts.date() for f in facts if f.message.ts), dt.date.today())
    return dt.datetime.combine(day, dt.time(hh, mm))


def catch_up(record: Record, new_messages: int, since: dt.datetime | str | None = None) -> CatchUp:
    """What happened so far in the chat ``record`` (or since a time); ``new_messages`` of its messages were
    appended since the last catch-up."""
    facts = classify(record)
    result = CatchUp(path=record.source_path, new_messages=new_messages, total_messages=len(facts))
    start = resolve_since(since, facts)
    kept = []
    prepare(f.text for f in facts if _shown(f))
    for f in facts:
        why = refusal(f.text) if _shown(f) else None
        if why:
            result.dropped.append(DroppedItem(text=f.text, reason=why))
        else:
            kept.append(f)
    facts = kept
    window = [f for f in facts if start is None or (f.message.ts and f.message.ts >= start)]

    def add(section: str, text: str, f: Fact) -> None:
        quote = record.text[f.start : f.end][:240] or f.text[:240]
        citation = Citation(doc_id=record.id, section="chat", start=f.start, end=f.end, quote=quote)
        result.items.append(DraftItem(section=section, text=text, citations=[citation], cautions=cautions(text)))

    def when(f: Fact) -> str:
        return f.message.ts.strftime("%H:%M") if f.message.ts else ""

    def author(f: Fact) -> str:
        return f.message.author

    state_facts = [(f, state) for f in facts if (state := state_of(f))]
    if state_facts:
        latest, state = state_facts[-1]
        add("status", f"{state} as of {when(latest)}: {latest.text}", latest)
    first = next((f for f in facts if f.kind == MessageKind.report), None)
    if first is not None:
        add("status", f"started {when(first)}: {first.text}", first)
    for f in [f for f in window if f.kind == MessageKind.action][-6:]:
        add("actions taken", f"{when(f)} {author(f)}: {f.text}", f)
    questions = [f for f in window if _question(f) and not is_bot(author(f))]
    for f in questions[-3:]:
        after = facts[facts.index(f) + 1 : facts.index(f) + 3]
        answered = any(author(g) != author(f) for g in after)
        label = "" if not answered else " (answered?)"
        add("open questions", f"{when(f)} {author(f)}: {f.text}{label}", f)
    latest_by_author: dict[str, Fact] = {}
    for f in window:
        if not is_bot(author(f)) and _doing(f):
            latest_by_author[author(f)] = f
    for name, f in sorted(latest_by_author.items()):
        add("who is doing what", f"{name}: {f.text}", f)
    return result
