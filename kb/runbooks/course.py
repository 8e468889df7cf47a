"""What an incident's own course says about its steps: which action made things worse (a responder or the
timeline says so) and which fix worked (the action just before things came back), judged by meaning
(``kb.retrieval.cues``) on a chat log's messages or a postmortem's timeline entries.

A draft never advises a step an incident says made things worse: it becomes a caution placed before the
step it qualifies, and the fix that worked comes first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from kb.core.enums import MessageKind, SectionName
from kb.core.models import Kind, Record
from kb.retrieval import cues
from kb.retrieval.corpus import Corpus
from kb.retrieval.meaning import Verdict
from kb.runbooks.candidates import Candidate, show_step
from kb.text.steps import COMMAND_LINE, Span, clean_step, is_change, split_steps, terms_of

#: how many entries before a "that made it worse" the action it speaks of may be
LOOK_BACK = 4
#: how far ahead of the next kind "made things worse" or "back to normal" must be: a wrong call here turns a
#: good step into a caution, or puts a bystander's message first as the fix
CLEAR_MARGIN = 0.1
#: how far ahead of the next kind an entry without a command must read as an action
ACTION_MARGIN = 0.1
#: a step at least this close in meaning to an action an incident says made things worse is that action
HARMFUL_SIMILARITY = 0.5
#: characters of an entry the classifier reads (its first line carries what it says; output follows)
ENTRY_CHARS = 300


@dataclass
class Course:
    """The actions that made things worse and the fixes that worked, as spans of the incident's text."""

    record: Record
    harmful: list[tuple[Span, Span]] = field(default_factory=list)  #: (the action, what says it made it worse)
    fixes: list[Span] = field(default_factory=list)  #: the action just before things came back
    undone: list[Span] = field(default_factory=list)  #: the undo right after "that made it worse, revert"

    def not_advised(self) -> list[Span]:
        """The entries whose actions a runbook must not advise: what made things worse, and its undo."""
        return [a for a, _w in self.harmful] + self.undone


def entries(record: Record) -> list[Span]:
    """A chat log's messages, or a postmortem's timeline entries, as spans of its text."""
    if record.kind == Kind.chat and record.messages:
        return [Span(m.start, m.end, record.text[m.start : m.end]) for m in record.messages]
    out: list[Span] = []
    for section in record.sections:
        if section.name == SectionName.timeline:
            out.extend(split_steps(record.text[section.start : section.end], section.start))
    return out


def _said(text: str) -> str:
    """What an entry says, without its time stamp or speaker ("[..] aisha: ", "- 10:26 - ") and its output."""
    line = text.strip().lstrip("-*+ ").split("\n", 1)[0]
    if line.startswith("["):
        line = line.partition("] ")[2] or line
        head, sep, rest = line.partition(": ")
        line = rest if sep and len(head) < 40 and " " not in head.strip() else line
    head, sep, rest = line.partition(" - ")
    if sep and len(head) < 25 and any(c.isdigit() for c in head):
        line = rest
    first, _, rest = line.partition(" ")
    if rest and first.replace(":", "").isdigit():  # "18:01 ..."
        line = rest
    return line.strip()[:ENTRY_CHARS]


def _clauses(text: str) -> list[str]:
    """The sentences of an entry ("checkout errors 47%. that made it worse, revert"): a clause can say it
    made things worse while the rest reports a figure."""
    out = [text]
    for mark in (". ", "; ", "! "):
        out = [piece.strip() for part in out for piece in part.split(mark)]
    return out if len(out) > 1 else []


def _kind_of(whole: Verdict, clauses: Sequence[Verdict]) -> str | None:
    """An entry made things worse when it or one of its sentences clearly says so (``CLEAR_MARGIN`` ahead of
    any other kind); else it is back to normal when it or a sentence clearly says that; else what the whole
    says."""
    for kind in (MessageKind.made_worse, MessageKind.recovery):
        if any(v.label == kind and v.margin >= CLEAR_MARGIN for v in (whole, *clauses)):
            return kind
    return None if whole.label in (MessageKind.made_worse, MessageKind.recovery) else whole.label


def _runs(entry: str) -> bool:
    """Does this entry run a command: a shell line (also right after its speaker) or a code block?"""
    return bool(COMMAND_LINE.search(entry) or COMMAND_LINE.search(_said(entry))) or "```" in entry


def _is_action(verdict: Verdict, entry: str) -> bool:
    """Did this entry do something: it runs a command, or reads as an action."""
    return _runs(entry) or (
        verdict.label == MessageKind.action and verdict.margin >= ACTION_MARGIN
    )


def course_of(record: Record) -> Course:
    """The course of one incident (a chat log or a postmortem with a timeline)."""
    course = Course(record)
    found = entries(record)
    if not found:
        return course
    said = [_said(e.text) for e in found]
    pieces = [[p for p in _clauses(text) if p] for text in said]
    flat = [p for ps in pieces for p in ps]
    judged = iter(cues.judge([*said, *flat]))
    verdicts = [next(judged) for _ in said]
    kinds = [_kind_of(v, [next(judged) for _ in ps]) for v, ps in zip(verdicts, pieces, strict=True)]
    harmful_at: set[int] = set()
    for i, kind in enumerate(kinds):
        if kind != MessageKind.made_worse:
            continue
        before = [j for j in range(i - 1, max(-1, i - 1 - LOOK_BACK), -1) if kinds[j] != MessageKind.made_worse]
        # what was run (a command) before what was said to be done
        ran = [j for j in before if _runs(found[j].text)]
        acted = ran or [j for j in before if _is_action(verdicts[j], found[j].text)]
        if acted:
            course.harmful.append((found[acted[0]], found[i]))
            harmful_at.add(acted[0])
            undo = i + 1 if i + 1 < len(found) and _is_action(verdicts[i + 1], found[i + 1].text) else None
            if undo is not None:
                course.undone.append(found[undo])
                harmful_at.add(undo)
    for i, kind in enumerate(kinds):
        if kind != MessageKind.recovery:
            continue
        back = range(i - 1, max(-1, i - 1 - LOOK_BACK), -1)
        fix = next((j for j in back if j not in harmful_at and kinds[j] not in (MessageKind.made_worse,
                    MessageKind.recovery) and _is_action(verdicts[j], found[j].text)), None)
        if fix is not None and not any(_near(found[fix], worse) for _action, worse in course.harmful):
            course.fixes.append(found[fix])
            break
    return course


def _near(span: Span, other: Span) -> bool:
    """Is this entry the "made it worse" message itself or its revert (the entry right after it)?"""
    return other.start <= span.start <= other.end + 1


def courses(records: Sequence[Record]) -> list[Course]:
    """The course of each incident among the records (runbooks have none). When an incident has both a chat
    log and a postmortem (same date), the fix is read from the postmortem's timeline, written after the fact."""
    found = [course_of(r) for r in records if r.kind in (Kind.chat, Kind.postmortem)]
    written = {c.record.date for c in found if c.record.kind == Kind.postmortem and c.fixes and c.record.date}
    for course in found:
        if course.record.kind == Kind.chat and course.record.date in written:
            course.fixes = []
    return found


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    va, vb = np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32)
    denom = float(np.linalg.norm(va) * np.linalg.norm(vb))
    return float(va @ vb) / denom if denom else 0.0


def advise(corpus: Corpus, found: Sequence[Course], candidates: Sequence[Candidate]) -> list[Candidate]:
    """The candidates as the incidents' courses say to advise them: a step close in meaning to an action that
    made things worse becomes a caution (citing what says so), and each fix that worked leads its phase."""
    out = list(candidates)
    harmful = [(course.record, action, worse) for course in found for action, worse in course.harmful
               if is_change(action.text)]
    # only a step that changes the system can repeat a change that made things worse
    steps = [c for c in out if c.phase not in (SectionName.overview, SectionName.symptoms) and not c.caution
             and is_change(c.span.text)]
    if harmful and steps:
        vectors = corpus.embed_texts([_said(a.text) for _r, a, _w in harmful] + [c.text[:600] for c in steps])
        acts, own = vectors[: len(harmful)], vectors[len(harmful) :]
        for cand, vector in zip(steps, own, strict=True):
            sims = [cosine(a, vector) for a in acts]
            best = max(range(len(sims)), key=sims.__getitem__)
            if sims[best] >= HARMFUL_SIMILARITY:
                record, _action, worse = harmful[best]
                cand.caution = cand.harmful = True
                cand.text = f"{cand.text}\n\n(This made things worse in `{record.id}`: \"{_said(worse.text)}\")"
                cand.merged.append(Candidate(cand.phase, record, worse, _said(worse.text), cand.rank))
    fixes = [
        Candidate(SectionName.mitigation, course.record, fix, show_step(clean_step(_said(fix.text)) or fix.text),
                  -1, terms=terms_of(fix.text), fix=True)
        for course in found for fix in course.fixes
    ]
    return fixes + out


#: a caution qualifies the first step of its section at least this close to it in meaning
CAUTION_RELATED = 0.2


def qualified(caution: Sequence[float], steps: Sequence[Sequence[float]]) -> int | None:
    """Which step (index, in document order) a caution qualifies: the first related one; it is placed
    before it, so it is read before any step it warns about. None when no step is related."""
    return next((i for i, vector in enumerate(steps) if cosine(caution, vector) >= CAUTION_RELATED), None)
