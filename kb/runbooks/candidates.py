"""The steps documents offer a runbook, by phase: a runbook's own sections, a postmortem's mitigation
commands, symptoms and cautions, the commands responders ran in a chat log (unless the log says they made
things worse). Steps that say the same thing are merged into one citing every source.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from kb.core.enums import SectionName
from kb.core.models import Citation, Kind, Passage, Record
from kb.text.fences import Fences, Role, code_spans
from kb.text.steps import (
    CAUTION,
    CHECK_FIRST,
    LINK,
    RUNBOOK_MENTION,
    Span,
    clean_step,
    containment,
    has_command,
    is_change,
    sentences,
    similarity,
    split_steps,
    terms_of,
)

#: The sections of a runbook, in the order a responder works through them.
PHASES = (
    SectionName.overview,
    SectionName.symptoms,
    SectionName.triage,
    SectionName.diagnosis,
    SectionName.mitigation,
    SectionName.verification,
    SectionName.escalation,
)
HEADINGS: dict[str, str] = {
    SectionName.overview: "Overview",
    SectionName.symptoms: "Symptoms / alerts",
    SectionName.triage: "Triage",
    SectionName.diagnosis: "Diagnosis",
    SectionName.mitigation: "Mitigation",
    SectionName.verification: "Verification",
    SectionName.escalation: "Escalation",
}
#: Which document sections feed which runbook phase.
RUNBOOK_PHASE: dict[str, SectionName] = {
    **{p: p for p in PHASES},
    SectionName.summary: SectionName.overview,
    SectionName.detection: SectionName.symptoms,
    SectionName.resolution: SectionName.mitigation,
}
POSTMORTEM_PHASE: dict[str, SectionName] = {
    SectionName.summary: SectionName.overview,
    SectionName.detection: SectionName.symptoms,
    SectionName.mitigation: SectionName.mitigation,
    SectionName.resolution: SectionName.mitigation,
}
LIMITS: dict[str, int] = {
    SectionName.overview: 2,
    SectionName.symptoms: 6,
    SectionName.triage: 6,
    SectionName.diagnosis: 6,
    SectionName.mitigation: 8,
    SectionName.verification: 4,
    SectionName.escalation: 4,
}
MAX_STEP_CHARS = 1500
DUPLICATE = 0.5  # term Jaccard at which two steps count as the same step


@dataclass
class Candidate:
    """A step found in a source document, before merging."""

    phase: str
    record: Record
    span: Span
    text: str
    rank: int
    caution: bool = False
    terms: set[str] = field(default_factory=set)
    merged: list[Candidate] = field(default_factory=list)
    fix: bool = False  #: the action an incident recovered right after: first in its phase
    whole: bool = False  #: a block of the best runbook's own procedure: shown whole, never cut or dropped
    harmful: bool = False  #: an incident says doing this made things worse: shown as a caution, in its place

    def passage(self) -> Passage:
        return Passage(
            id="",
            doc_id=self.record.id,
            title=self.record.title,
            kind=self.record.kind,
            section=section_at(self.record, self.span.start),
            start=self.span.start,
            end=self.span.end,
            text=self.span.text,
            date=self.record.date,
        )

    def citation(self) -> Citation:
        return Citation(
            doc_id=self.record.id,
            section=section_at(self.record, self.span.start),
            start=self.span.start,
            end=self.span.end,
            quote=self.span.text[:240],
        )


def section_at(record: Record, offset: int) -> str:
    for section in record.sections:
        if section.start <= offset < section.end:
            return section.name
    return SectionName.chat if record.kind == Kind.chat else SectionName.body


# -- candidates from documents ----------------------------------------------------------------


def is_step(text: str) -> bool:
    """Can this block be shown as a step? Not a bare link or image, and not a lead-in: a line ending in ':'
    that introduces a list (its items are the steps), unless a code block follows it in the same block."""
    words = LINK.sub(" ", text).strip(" \t\n-*+>.:|")
    if len(words.split()) < 2 and "```" not in text:
        return False
    return "```" in text or not text.rstrip().endswith(":")


def _section_steps(record: Record, names: dict[str, SectionName]) -> list[tuple[str, Span]]:
    out: list[tuple[str, Span]] = []
    for section in record.sections:
        phase = names.get(section.name)
        if phase is None:
            continue
        text = record.text[section.start : section.end]
        steps = split_steps(text, section.start)
        if phase == SectionName.overview:
            steps = steps[:1]
        fits = (s for s in steps if len(s.text) <= MAX_STEP_CHARS or has_command(s.text))
        out.extend((phase, s) for s in fits if is_step(s.text))
    return out


_SHELL_LINE = re.compile(r"^[ \t]*(?:```)?\$ (.+)$", re.M)


def _runbook_lead(text: str) -> int:
    """Where the words after "... runbook: " start (0: none), as ``re.match(r".*?\\b(?:runbook|playbook)\\b
    [^:]*:\\s*", text, re.I)`` would end, in one pass (that pattern rescans to the end from every mention)."""
    mention = RUNBOOK_MENTION.search(text)
    colon = text.find(":", mention.end()) if mention and "\n" not in text[: mention.start()] else -1
    if colon < 0:
        return 0
    end = colon + 1
    while end < len(text) and text[end].isspace():
        end += 1
    return end


def _chat_steps(record: Record) -> list[tuple[str, Span]]:
    """Commands responders ran (the ``$ ...`` lines, not their output), as (phase, span)."""
    out: list[tuple[str, Span]] = []
    for message in record.messages:
        body = record.text[message.start : message.end]
        for match in _SHELL_LINE.finditer(body):
            start, end = message.start + match.start(1), message.start + match.end(1)
            command = record.text[start:end]
            phase = SectionName.mitigation if is_change(command) else SectionName.diagnosis
            out.append((phase, Span(start, end, command)))
    return out


def _postmortem_cautions(record: Record) -> list[tuple[str, Span, bool]]:
    """Sentences of lessons / contributing factors (and action items about the runbook) that tell responders
    what to check first or what not to do, as (phase, span, is a caution)."""
    out: list[tuple[str, Span, bool]] = []
    for section in record.sections:
        if section.name not in (SectionName.lessons, SectionName.contributing_factors, SectionName.action_items):
            continue
        for step in split_steps(record.text[section.start : section.end], section.start):
            if section.name == SectionName.action_items and not RUNBOOK_MENTION.search(step.text):
                continue
            for sentence in sentences(step):
                text = sentence.text
                lead = _runbook_lead(text)
                if lead:  # "Update the X runbook: check ..." -> "check ..."
                    sentence = Span(sentence.start + lead, sentence.end, text[lead:])
                if CAUTION.search(sentence.text):
                    out.append((SectionName.mitigation, sentence, True))
                elif CHECK_FIRST.search(sentence.text):
                    out.append((SectionName.triage, sentence, False))
    return out


def show_step(text: str) -> str:
    shown = clean_step(text)
    return shown if len(shown) <= MAX_STEP_CHARS else shown[:MAX_STEP_CHARS].rstrip() + " ..."


def candidates_of(
    record: Record, rank: int, query_terms: set[str], harmful: Sequence[Span] = ()
) -> list[Candidate]:
    """The steps a document offers a runbook, with their phase (a chat log's commands that its course says
    made things worse, ``harmful``, are not offered)."""
    found: list[Candidate] = []

    def add(phase: str, span: Span, caution: bool = False) -> None:
        found.append(Candidate(phase, record, span, show_step(span.text), rank, caution, terms_of(span.text)))

    if record.kind == Kind.runbook:
        for phase, span in _section_steps(record, RUNBOOK_PHASE):
            add(phase, span)
    elif record.kind == Kind.postmortem:
        for phase, span in _section_steps(record, POSTMORTEM_PHASE):
            if phase == SectionName.mitigation:
                for sentence in sentences(span):
                    if has_command(sentence.text) or is_change(sentence.text):
                        add(phase, sentence)
            elif phase == SectionName.symptoms:
                add(phase, span)
            elif phase == SectionName.overview:
                first = sentences(span)[:2]
                if first:
                    add(phase, Span(first[0].start, first[-1].end, record.text[first[0].start : first[-1].end]))
        for phase, span, caution in _postmortem_cautions(record):
            add(phase, span, caution=caution)
    elif record.kind == Kind.chat:
        for phase, span in _chat_steps(record):
            if not any(a.start <= span.start < a.end for a in harmful):
                add(phase, span)
    if record.kind != Kind.runbook and query_terms:
        # from incidents, keep what concerns the topic (or carries a command)
        found = [
            c
            for c in found
            if len(c.terms & query_terms) >= min(2, len(query_terms))
            or (record.kind == Kind.postmortem and (has_command(c.span.text) or c.caution))
        ]
    return found


#: an inline code span shorter than this is a name, not a command (as ``has_command`` reads it)
MIN_INLINE_CODE = 6


def code_of(text: str) -> set[str]:
    """The code lines of a step's fenced blocks and its inline commands, white space normalised."""
    out: set[str] = set()
    fences = Fences()
    for line in text.splitlines():
        role = fences.role(line)
        if role is Role.CODE:
            out.add(" ".join(line.split()))
        elif role is Role.TEXT:
            spans = (line[start:end].strip("`").strip() for start, end in code_spans(line))
            out |= {" ".join(span.split()) for span in spans if len(span) >= MIN_INLINE_CODE}
    out.discard("")
    return out


def _same_step(cand: Candidate, other: Candidate) -> bool:
    """Whether two steps say the same thing: most of their words are shared, and when both carry code they share
    a line of it ("kubectl get pod" and "kubectl describe pod" share their words, not their command)."""
    if other.phase != cand.phase:
        return False
    ours, theirs = code_of(cand.text), code_of(other.text)
    if ours and theirs and not ours & theirs:
        return False
    return similarity(cand.terms, other.terms) >= DUPLICATE or (
        min(len(cand.terms), len(other.terms)) >= 4 and containment(cand.terms, other.terms) >= 0.85)


def merge_duplicates(candidates: Sequence[Candidate]) -> list[Candidate]:
    """Steps that say the same thing become one step citing every source; the one shown is the first, unless a
    later copy carries code the first lacks (and the first is not a block of the best runbook, kept whole)."""
    kept: list[Candidate] = []
    for cand in candidates:
        for n, other in enumerate(kept):
            if _same_step(cand, other):
                if code_of(cand.text) > code_of(other.text) and not other.whole:
                    cand.merged, other.merged = [other, *other.merged, *cand.merged], []
                    cand.fix, cand.caution, cand.harmful = (cand.fix or other.fix, cand.caution or other.caution,
                                                            cand.harmful or other.harmful)
                    kept[n] = cand
                else:
                    other.merged.append(cand)
                break
        else:
            kept.append(cand)
    return kept
