"""What a past incident says helped, and what it says made things worse, found by meaning and cited exactly.

A postmortem is read the way a game day reads it (``kb.gameday.incident.read_incident``, ``build_rubric``): the
fix is the timeline's steps closest in meaning to its Resolution section (steps the timeline says made things
worse are never the fix), and what hurt is the step just before an entry that says it made things worse. A
postmortem a game day cannot read (no timeline with times, no root cause) falls back to its sections as the
section classifier named them at ingest: the sentences of its Resolution or Mitigation section, each judged by
the cue vocabulary (``kb.retrieval.cues``: an action or a decision, not the recovery; a sentence that says a step made
things worse is a caution, not a fix). A chat log with no postmortem is read as a summary reads it
(``kb.generation.summary.classify``): the last step before things came back. A runbook's first action is the
first step of its Mitigation section (else Triage) that the cues read as an action.

Every statement keeps the span of the document's text it comes from, so it can be cited at its offset.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from kb.core.enums import MessageKind, RubricKind, SectionName
from kb.core.errors import KBError
from kb.core.models import Kind, Record
from kb.gameday.cues import ACTING, TELLING
from kb.gameday.incident import Incident, read_incident
from kb.gameday.rubric import build_rubric
from kb.gameday.timeline import plain
from kb.generation.candidates import field_section, figure_field
from kb.generation.summary import classify, recovery_statement, turning_point
from kb.retrieval import cues
from kb.retrieval.corpus import Corpus
from kb.text.steps import Span, sentences, split_steps

Role = Literal["fix", "worse", "runbook", "runbook_worse"]
#: the most fix statements taken from one incident
MAX_FIXES = 2
#: kinds of sentence that say what was done (that things came back says nothing of what fixed them)
DONE = (MessageKind.action, MessageKind.decision)
#: the sections a fix is read from when the timeline cannot be read, first found first
FIX_SECTIONS = (SectionName.resolution, SectionName.mitigation)
#: the sections a runbook's first action is read from, first found first
ACTION_SECTIONS = (SectionName.mitigation, SectionName.triage, SectionName.diagnosis)
#: a statement needs this many words to say something
MIN_WORDS = 3


@dataclass(frozen=True)
class Statement:
    """One thing a document says: a fix, a step that made things worse, or a runbook's first action."""

    role: Role
    doc_id: str
    title: str
    date: str | None
    start: int  #: offset of the statement in the document's text
    end: int
    said: str  #: its words, one line, without list markers, clock times or emphasis
    whole: str = ""  #: a runbook step's whole text (its commands too), what it is compared with by meaning


def _statement(role: Role, record: Record, span: Span, said: str | None = None) -> Statement | None:
    """A statement of ``span`` (moved past leading white space and list markers: the words start there)."""
    start, end = span.start, span.end
    while start < end and (record.text[start].isspace() or record.text[start] in "-*+"):
        start += 1
    words = " ".join((said if said is not None else plain(record.text[start:end])).split())
    if len(words.split()) < MIN_WORDS or start >= end:
        return None
    date = record.date.isoformat() if record.date else None
    return Statement(role, record.id, record.title, date, start, end, words)


def lessons(corpus: Corpus, record: Record) -> list[Statement]:
    """What ``record`` (a postmortem or a chat log) says fixed it, and what made things worse."""
    if record.kind == Kind.chat:
        return _from_chat(record)
    try:
        return _from_rubric(corpus, record)
    except KBError:
        return _from_sections(record)


def _from_rubric(corpus: Corpus, record: Record) -> list[Statement]:
    """The game day's reading: the timeline's fix steps (else the Resolution's own sentences) and what hurt."""
    incident = read_incident(corpus, record.id)
    harmful = [int(item.id.rsplit("-", 1)[1]) for item in build_rubric(incident).items
               if item.kind == RubricKind.harmful and item.id.removeprefix("harmful-").isdigit()]
    steps = [n for n in incident.fixes if _acts(incident, n) and n not in harmful]
    if not steps:  # else the last steps taken before things were back
        back = min(incident.recovery, len(incident.timeline))
        steps = [n for n in range(incident.first + 1, back) if _acts(incident, n) and n not in harmful][-MAX_FIXES:]
    found = [_statement("fix", record, incident.timeline[n][0]) for n in steps[:MAX_FIXES]]
    fixes = [s for s in found if s is not None] or [s for s in _from_sections(record) if s.role == "fix"]
    worse = [_statement("worse", record, incident.timeline[n][0]) for n in harmful[:1]]
    return [*fixes, *(s for s in worse if s is not None)]


def _acts(incident: Incident, n: int) -> bool:
    """Whether a timeline entry is a step someone took on a system (not telling people, not a made-worse)."""
    return (incident.kinds[n] in ACTING and incident.actions[n] is not None
            and incident.actions[n] not in TELLING)


def _parts(record: Record, name: str) -> list[Span]:
    """The document's sections of this name; else its bold-labelled fields of it ("- **Resolution**: ..."), as a
    report written as a list of fields has them."""
    spans = [Span(s.start, s.end, record.text[s.start : s.end]) for s in record.sections if s.name == name]
    spans = spans or [step for step in split_steps(record.text) if field_section(step.text) == name]
    # a field holding only a duration or a time ("**Time to repair**: 0h 37m") says how long, not what was done
    return [span for span in spans if not figure_field(span.text.strip())]


def _section_sentences(record: Record, names: tuple[str, ...]) -> list[Span]:
    """The prose sentences of the first of ``names`` the document has (code blocks and tables left out)."""
    for name in names:
        spans: list[Span] = []
        for part in _parts(record, name):
            for step in split_steps(part.text, part.start):
                if step.text.lstrip().startswith(("```", "~~~", "|", "#")):
                    continue
                spans += [s for s in sentences(step) if len(s.text.split()) >= MIN_WORDS]
        if spans:
            return spans
    return []


def _from_sections(record: Record) -> list[Statement]:
    """The Resolution (or Mitigation) sentences the cues read as done, and any that say a step made it worse."""
    spans = _section_sentences(record, FIX_SECTIONS)
    if not spans:
        return []
    readings = cues.read([s.text for s in spans])
    out: list[Statement] = []
    for span, reading in zip(spans, readings, strict=True):
        if reading.says(MessageKind.made_worse):
            role: Role = "worse"
        elif any(reading.states(kind) or reading.leans(kind) for kind in DONE):
            role = "fix"
        else:
            continue
        statement = _statement(role, record, span)
        if statement is not None:
            out.append(statement)
    fixes = [s for s in out if s.role == "fix"][:MAX_FIXES]
    worse = [s for s in out if s.role == "worse"]
    lead_span = next((span for span in spans if not any(span.start <= w.start < span.end for w in worse)), None)
    if not fixes and lead_span is not None:  # nothing reads clearly as done: the section's lead says what was done
        lead = _statement("fix", record, lead_span)
        fixes = [lead] if lead is not None else []
    return [*fixes, *worse[:1]]


def _from_chat(record: Record) -> list[Statement]:
    """A chat log's fix: the last step taken before the first message that reads as things coming back (after
    the last step said to make things worse), and that step said to make things worse."""
    facts = classify(record)
    if not facts:
        return []
    first = next((f for f in facts if f.kind == MessageKind.report), facts[0])
    back = turning_point(facts, first, recovery_statement(facts, first))
    end = facts.index(back) if back in facts else len(facts)
    acted = [f for f in facts[:end] if f.kind == MessageKind.action]
    out: list[Statement] = []
    if acted and back is not None:
        fix = _statement("fix", record, Span(acted[-1].start, acted[-1].end, acted[-1].text), acted[-1].text)
        out += [fix] if fix is not None else []
    worse_at = [n for n, f in enumerate(facts) if f.kind == MessageKind.made_worse]
    if worse_at:
        step = next((f for f in reversed(facts[: worse_at[0]]) if f.kind == MessageKind.action), None)
        if step is not None:
            worse = _statement("worse", record, Span(step.start, step.end, step.text), step.text)
            out += [worse] if worse is not None else []
    return out


def first_action(record: Record) -> Statement | None:
    """A runbook's first action: the first step of its Mitigation section (else Triage, Diagnosis) that the cues
    read as an action or a decision; else that section's first step."""
    for name in ACTION_SECTIONS:
        steps = []
        for section in (s for s in record.sections if s.name == name):
            body = split_steps(record.text[section.start : section.end], section.start)
            steps += [s for s in body if not s.text.lstrip().startswith(("```", "~~~", "|", "#"))]
        if not steps:
            continue
        leads = [sentences(Span(s.start, s.end, s.text.split("\n", 1)[0]))[0] for s in steps[:6]]
        kinds = cues.kinds([lead.text for lead in leads])
        chosen = next((lead for lead, kind in zip(leads, kinds, strict=True)
                       if kind in (MessageKind.action, MessageKind.decision)), leads[0])
        statement = _statement("runbook", record, chosen)
        if statement is not None:
            whole = next(s.text for s in steps if s.start <= chosen.start < s.end)
            return replace(statement, whole=whole)
    return None
