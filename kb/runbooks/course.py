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
from kb.runbooks.candidates import Candidate, show_step
from kb.text.steps import COMMAND_LINE, Span, clean_step, is_change, split_steps, terms_of

#: how many entries before a "that made it worse" the action it speaks of may be
LOOK_BACK = 4
#: how far ahead of the next kind "made things worse" or "back to normal" must be: a wrong call here turns a
#: good step into a caution, or puts a bystander's message first as the fix. Set on the learned cue model's
#: margins over labelled courses (scripts/calibrate_course.py): from 0.1 no entry is wrongly read as made
#: worse; at 0.15, 4 entries are wrongly read as back to normal (5 at 0.1, which finds one more of 13)
CLEAR_MARGIN = 0.15
#: how far behind an entry's best kind "action" may be for an entry without a command to count as one: 0, it
#: must read as an action (scripts/calibrate_course.py: any slack adds more false actions than it finds)
ACTION_MARGIN = 0.0
#: a step at least this close in meaning to an action an incident says made things worse is that action
#: (scripts/calibrate_course.py: 7 of 9 labelled same-action pairs and 1 of 10 other steps reach it, as at
#: 0.35; at 0.5 only 5 of 9 did)
HARMFUL_SIMILARITY = 0.4
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


@dataclass(frozen=True)
class Entry:
    """What one entry of a course does, as read by meaning (whole and per sentence, ``cues.read``)."""

    kind: MessageKind | None  #: made_worse or recovery when it or a sentence clearly says so, else its kind
    behind: float  #: how far "action" is behind its best kind (0: it runs a command, or reads as an action)

    @property
    def acts(self) -> bool:
        """It changed something: it runs a command, or reads as an action or nearly so (``ACTION_MARGIN``)."""
        return self.kind not in (MessageKind.made_worse, MessageKind.recovery) and self.behind <= ACTION_MARGIN

    @property
    def undoes(self) -> bool:
        """Right after "that made it worse", it undid the step and says what came back ("reverted to 120 and
        reloaded; inventory connecting again"): it runs a command or reads as an action, and reads as back."""
        return self.kind == MessageKind.recovery and self.behind == 0.0


def read_entries(said: Sequence[str], texts: Sequence[str] | None = None) -> list[Entry]:
    """What each entry does (``said``: its words; ``texts``: the whole entry, for its commands), judged in
    one batch. An entry made things worse when it or a sentence clearly says so (``CLEAR_MARGIN``); else it
    is back to normal when it or a sentence clearly says that; else it has what its whole says."""
    return [entry_of(r, t) for r, t in zip(cues.read(said), texts or said, strict=True)]


def entry_of(reading: cues.Reading, text: str) -> Entry:
    """What one entry does, from its reading and its text (a command run is an action whatever it says)."""
    scores = reading.verdict.scores
    acting = _runs(text) or reading.says(MessageKind.action)
    action = scores.get(MessageKind.action)
    behind = 0.0 if acting else float("inf") if action is None else max(scores.values()) - action
    for kind in (MessageKind.made_worse, MessageKind.recovery):
        if reading.clearly(kind, CLEAR_MARGIN):
            return Entry(kind, behind)
    said = None if reading.kind in (MessageKind.made_worse, MessageKind.recovery) else reading.kind
    return Entry(said, behind)


def _runs(entry: str) -> bool:
    """Does this entry run a command: a shell line (also right after its speaker) or a code block?"""
    return bool(COMMAND_LINE.search(entry) or COMMAND_LINE.search(_said(entry))) or "```" in entry


@dataclass
class Steps:
    """A course as indexes into its entries."""

    harmful: list[tuple[int, int]] = field(default_factory=list)  #: (the action, what says it made it worse)
    undone: list[int] = field(default_factory=list)
    fixes: list[int] = field(default_factory=list)


def steps_of(read: Sequence[Entry], texts: Sequence[str]) -> Steps:
    """Which entries made things worse, which undid them and which fixed the incident.

    A "that made it worse" blames what was done since the previous such claim: the last command run, else, of
    the entries since the last "back to normal" too (what brought things back did not make them worse), the
    one that reads most as an action; the action right after the claim undoes it. The fix is, of the actions just
    before the first "back to normal" after the last claim that blamed an action, the one that reads most as
    an action (the latest on a tie)."""
    out = Steps()
    claim = settled = -1  # the last claim; the last claim or recovery
    for i, entry in enumerate(read):
        if entry.kind == MessageKind.recovery:
            settled = i
        if entry.kind != MessageKind.made_worse:
            continue
        window = [j for j in range(i - 1, max(claim, i - 1 - LOOK_BACK), -1) if j not in out.undone]
        acted = [j for j in window if _runs(texts[j])] or [j for j in window if j > settled and read[j].acts]
        claim = settled = i
        if not acted:
            continue
        out.harmful.append((min(acted, key=lambda j: read[j].behind), i))
        if i + 1 < len(read) and (read[i + 1].acts or read[i + 1].undoes):
            out.undone.append(i + 1)
    taken = {a for a, _w in out.harmful} | set(out.undone)
    last_worse = max((w for _a, w in out.harmful), default=-1)
    for i in (i for i, e in enumerate(read) if e.kind == MessageKind.recovery and i > last_worse):
        back = range(i - 1, max(last_worse, i - 1 - LOOK_BACK), -1)
        acting = [j for j in back if j not in taken and read[j].acts]
        if acting:
            out.fixes.append(min(acting, key=lambda j: read[j].behind))
            break
    return out


def course_of(record: Record) -> Course:
    """The course of one incident (a chat log or a postmortem with a timeline)."""
    course = Course(record)
    found = entries(record)
    if not found:
        return course
    texts = [e.text for e in found]
    steps = steps_of(read_entries([_said(t) for t in texts], texts), texts)
    course.harmful = [(found[a], found[w]) for a, w in steps.harmful]
    course.undone = [found[u] for u in steps.undone]
    course.fixes = [found[f] for f in steps.fixes]
    return course


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
