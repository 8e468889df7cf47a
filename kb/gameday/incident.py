"""An incident's course as a game day needs it, read by meaning: where it was first reported, which actions
were the fix (the actions before recovery closest in meaning to the postmortem's Resolution), where it
recovered, and which entries state the cause (findings). A postmortem that cannot make a fair scenario is
refused with what is missing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kb.core.enums import ActionKind, MessageKind, SectionName
from kb.core.errors import KBError
from kb.core.models import Kind, Record
from kb.gameday.cues import (
    ACTING,
    CLAUSE,
    HANDLE,
    TELLING,
    action_kinds,
    evidence_kinds,
    line_kind,
    pieces_of,
    similarity,
)
from kb.gameday.leak import LeakGuard
from kb.gameday.timeline import first_page_index, plain, recovery_index, section_text, timeline_of
from kb.generation.candidates import figure_field
from kb.retrieval import cues as message_cues
from kb.retrieval.corpus import Corpus
from kb.retrieval.similar import same_incident
from kb.text.steps import Span, clean_step, sentences

#: an entry this close in meaning (cosine) to a sentence of the root cause states the cause
STATES_CAUSE = 0.55
#: when no entry between the page and the fix is that close, the closest one is the responders' finding if it
#: is this close: timelines tell a finding in responders' words ("finds `eta request took 28s` in the logs and
#: links it to v5.8.0"), the Root cause section in an explainer's ("a network call inside a transaction")
NEARLY_STATES_CAUSE = 0.45
#: an action this much less close to the Resolution than the closest one is not part of the fix
FIX_SPREAD = 0.08
#: a step this much less close to the Resolution than the closest one may still begin the fix (shown no more)
START_SPREAD = 0.15
#: an entry at least this close in meaning to the Resolution section can be the fix it describes
FIX_CLOSE = 0.4
#: kinds of entry that are never the fix: a guess, the recovery itself, a step that made things worse
NOT_A_FIX = (MessageKind.hypothesis, MessageKind.recovery, MessageKind.made_worse)
#: kinds of entry that say a step was taken (an action item in a timeline is a step written as a task)
FIX_KINDS = (MessageKind.action, MessageKind.decision, MessageKind.action_item)
#: a page needs this many words besides its time to be a report a trainee can start from
PAGE_WORDS = 2


@dataclass
class Incident:
    """The postmortem a scenario is built from, its chat log, and its timeline read by meaning."""

    record: Record
    chat: Record | None
    guard: LeakGuard
    timeline: list[tuple[Span, str | None]]
    kinds: list[MessageKind | None]  #: what each entry does
    actions: list[ActionKind | None]  #: the kind of action each entry describes
    evidence: list[str]  #: the kind of evidence each entry is
    first: int  #: the entry of the first report
    recovery: int  #: the entry that says things are back (len(timeline) when none does)
    fixes: list[int] = field(default_factory=list)  #: the entries of the fix that worked
    #: the first step that reads somewhat like the Resolution, when it comes before the fix's closest steps
    #: (asking for the quota that a later step uses): nothing from it on is shown either
    fix_start: int | None = None
    findings: list[int] = field(default_factory=list)  #: entries before the fix that state the cause
    states_cause: list[bool] = field(default_factory=list)  #: per entry: close in meaning to the cause
    sentence_kinds: list[frozenset[MessageKind]] = field(default_factory=list)  #: per entry: its sentences' kinds
    resolution: list[str] = field(default_factory=list)  #: the Resolution section's sentences of the fix

    @property
    def fix(self) -> int:
        """Where the fix begins: nothing from here on is shown before the debrief."""
        return min([*self.fixes, *([self.fix_start] if self.fix_start is not None else [])] or [self.recovery])

    def text(self, n: int) -> str:
        return " ".join(clean_step(self.timeline[n][0].text).split())


def body_sentences(text: str) -> list[str]:
    """The sentences of a section without its heading, code blocks or list markers, one line each. A paragraph
    whose every line is indented is code too (a plain-text report's "Commands used:" block)."""
    text = re.sub(r"^\s*#{1,6} [^\n]*\n", "", text.strip())
    out = []
    for paragraph in _blocks(text):
        if paragraph.startswith("```") or all(line[:1] in (" ", "\t") for line in paragraph.splitlines()):
            continue
        for s in sentences(Span(0, len(paragraph), paragraph)):
            line = " ".join(clean_step(s.text).split())
            if len(line.split()) >= 3:
                out.append(line)
    return out


def _cause_closeness(texts: list[str], cause: list[str]) -> list[float]:
    """How close each entry, or one of its clauses ("X determines the root cause is Y"), comes to saying what
    a sentence of the root cause says."""
    pieces, owner = [], []
    for n, text in enumerate(texts):
        for piece in dict.fromkeys([text, *(c for c in CLAUSE.split(text) if len(c.split()) >= 2)]):
            pieces.append(piece)
            owner.append(n)
    out = [0.0] * len(texts)
    for n, row in zip(owner, similarity(pieces, cause), strict=True):
        out[n] = max(out[n], max(row, default=0.0))
    return out


def _findings(incident: Incident, closeness: list[float]) -> list[int]:
    """The entries between the page and the fix that state the cause (not steps taken); when none does, the
    one closest to it, if nearly (``NEARLY_STATES_CAUSE``), which then also counts as stating it (no clue). That
    one is looked for after the page, and not among reports: the page and what people noticed are symptoms."""
    told = [n for n in range(incident.first, incident.fix) if incident.kinds[n] not in ACTING]
    found = [n for n in told if incident.states_cause[n]]
    looked = [n for n in told if n > incident.first and incident.kinds[n] != MessageKind.report]
    if not found and looked:
        best = max(looked, key=lambda n: closeness[n])
        if closeness[best] >= NEARLY_STATES_CAUSE:
            incident.states_cause[best] = True
            found = [best]
    return found


def read_incident(corpus: Corpus, source_id: str) -> Incident:
    """The stored postmortem read for a game day; KBError, saying what is missing, when it cannot make one."""
    record = corpus.record(source_id)
    if record.kind != Kind.postmortem:
        postmortems = [rid for rid in same_incident(corpus, record)
                       if corpus.record_metas()[rid].kind == Kind.postmortem]
        hint = f" (the postmortem of the same incident is '{postmortems[0]}')" if postmortems else ""
        raise KBError(f"'{source_id}' is a {record.kind.value}; game days are built from postmortems{hint}")
    missing = []
    cause = body_sentences(section_text(record, SectionName.root_cause))
    if not cause:
        missing.append("no root cause section to build an answer key from")
    timeline = timeline_of(record)
    if not any(when for _span, when in timeline):
        missing.append("no timeline whose entries have times")
    if missing:
        raise KBError(f"'{source_id}' cannot make a fair game day: " + "; ".join(missing))
    texts = [plain(s.text) for s, _ in timeline]
    readings = message_cues.read(texts)
    kinds, evidence = [line_kind(r) for r in readings], evidence_kinds(texts)
    closeness = _cause_closeness(texts, cause)
    states_cause = [c >= STATES_CAUSE for c in closeness]
    # an entry that states the cause and is not someone reporting what they saw is told with hindsight
    hindsight = [said and kind != MessageKind.report for said, kind in zip(states_cause, kinds, strict=True)]
    first = first_page_index(timeline, kinds, evidence, record.date, hindsight=hindsight,
                             reads_as_report=[r.leans(MessageKind.report) for r in readings])
    resolution = _resolution(record)
    incident = Incident(record, _chat(corpus, record), LeakGuard.for_record(record, corpus.passage_share), timeline,
                        kinds, action_kinds(texts), evidence, first, len(timeline), resolution=resolution,
                        sentence_kinds=[r.sentences for r in readings])
    # "@alice rolls back" reads as "rolls back"; a sentence of the Resolution may say the fix in one clause
    said = list(dict.fromkeys(piece for sentence in resolution for piece in pieces_of(sentence)))
    sims = similarity([HANDLE.sub("", t) for t in texts], said)
    incident.states_cause = states_cause
    incident.fixes, incident.fix_start = _fixes(incident, sims)
    incident.recovery = recovery_index(kinds, incident.fix + 1) if incident.fixes else recovery_index(kinds, first + 1)
    if not incident.fixes and not resolution:
        raise KBError(f"'{source_id}' cannot make a fair game day: no fix can be identified (no Resolution or "
                      "Mitigation section, and no action before the recovery in its timeline)")
    page_words = plain(timeline[incident.first][0].text).split()
    if len(page_words) < PAGE_WORDS:
        raise KBError(f"'{source_id}' cannot make a fair game day: its first report reads only "
                      f"'{' '.join(page_words) or timeline[incident.first][0].text.strip()}', not what was seen")
    incident.findings = _findings(incident, closeness)
    return incident


def _resolution(record: Record) -> list[str]:
    """What the Resolution (or Mitigation) section says was done: the sentences of its first paragraph of
    prose, and the commands of the code right after it when that paragraph leads into them ("Locating the
    blocker:") or when the section starts with code. A plain-text section's own heading line is not prose."""
    out: list[str] = []
    for section in record.sections:
        text = record.text[section.start : section.end]
        if section.name not in (SectionName.resolution, SectionName.mitigation) or figure_field(text.strip()):
            continue  # a field that only gives a figure ("**Time to repair**: 1h 28m") says nothing that was done
        head = section.heading.strip().lstrip("#").strip()
        lines = text.strip().splitlines()
        if lines and head and lines[0].strip().lstrip("#").strip() == head:
            text = "\n".join(lines[1:])
        out += _lead(text)
        if out:
            break
    return out


def _lead(text: str) -> list[str]:
    """A section's lead: the sentences of its first paragraph of prose; a paragraph that ends with a colon
    brings the commands of the code blocks right after it, one a line, and a section that starts with code
    says what was done by the commands of its first block."""
    out: list[str] = []
    for block in _blocks(text):
        if block.startswith("```"):
            code = [line.strip().lstrip("-#/ ").strip() for line in block.splitlines()[1:]
                    if line.strip() and not line.strip().startswith("```")]
            out += [c for c in code[:6] if c]
            if len(out) == len(code[:6]):
                break  # the section starts with code: its first block
            continue
        if out:
            break
        out += body_sentences(block)
        if not block.rstrip().endswith(":"):
            break
    return out


def _blocks(text: str) -> list[str]:
    """A section's paragraphs and fenced code blocks, in order."""
    out: list[str] = []
    for n, piece in enumerate(re.split(r"(```.*?```)", text, flags=re.S)):
        if n % 2:
            out.append(piece.strip())
        else:
            out += [p.rstrip().lstrip("\n") for p in re.split(r"\n\s*\n", piece) if p.strip()]  # keeps an indent
    return out


def _fixes(incident: Incident, to_resolution: list[list[float]]) -> tuple[list[int], int | None]:
    """The fix: the steps after the first report closest in meaning to the Resolution section (all within a
    small spread of the closest), looked for first before the first entry that says things are back (a step
    taken after that did not bring them back: "determines why the old job reverted it", hours later), else
    the last action before that entry; and the first step that reads somewhat like the Resolution, where
    showing stops."""
    back = recovery_index(incident.kinds, incident.first + 1)
    if incident.resolution:
        for until in dict.fromkeys((back, len(incident.timeline))):
            found = _closest_to_resolution(incident, to_resolution, range(incident.first + 1, until))
            if found is not None:
                return found
    acted = [n for n in range(incident.first + 1, back)
             if incident.kinds[n] in ACTING and incident.actions[n] not in TELLING]
    if not acted and incident.first + 1 < back < len(incident.timeline):
        return [back - 1], None  # the entry just before things were back
    return acted[-1:], None


def _closest_to_resolution(
    incident: Incident, to_resolution: list[list[float]], entries: range
) -> tuple[list[int], int] | None:
    """(fix steps, where the fix starts) among ``entries``, or None when none is close enough to the Resolution."""
    closeness = {n: max(to_resolution[n], default=0.0) for n in entries if incident.timeline[n][1]
                 and incident.kinds[n] not in NOT_A_FIX}
    near = [n for n, c in closeness.items() if c >= FIX_CLOSE]
    # a step the timeline itself says made things worse was tried, not the fix, however close its words
    worse = {n for n, r in zip(near, message_cues.read([incident.text(n) for n in near]), strict=True)
             if r.says(MessageKind.made_worse)}
    near = [n for n in near if n not in worse]
    # a step someone took, when one is close enough; else any entry close enough (a kind is a guess)
    acted = [n for n in near if incident.kinds[n] in FIX_KINDS] or near
    best = max((closeness[n] for n in acted), default=0.0)
    if best < FIX_CLOSE:
        return None
    start = min(n for n in acted if closeness[n] >= best - START_SPREAD)
    fixes = [n for n in acted if closeness[n] >= best - FIX_SPREAD]
    return fixes + _step_after_finding(incident, fixes), start


def _step_after_finding(incident: Incident, fixes: list[int]) -> list[int]:
    """The steps taken after the entries closest to the Resolution and before the first entry that says things
    are back are part of the fix too. When those entries only found what to fix ("finds the CREATE INDEX
    holding the lock"), that is the first step taken after them; when they are steps, it is every step until
    things are back ("terminates the sessions", then "turns the flag off", then "pool down to 41%"): a
    Resolution may name one of two steps. With no entry saying things are back, nothing is added to steps."""
    if not fixes:
        return []
    back = recovery_index(incident.kinds, max(fixes) + 1)
    steps = [n for n in range(max(fixes) + 1, back) if incident.timeline[n][1]
             and incident.kinds[n] in ACTING and incident.actions[n] not in TELLING]
    if not any(incident.kinds[n] in FIX_KINDS for n in fixes):
        return steps[:1]
    return steps if back < len(incident.timeline) else []


def _chat(corpus: Corpus, record: Record) -> Record | None:
    """The chat log of the same incident: same day, sharing a service."""
    chats = [rid for rid in same_incident(corpus, record) if corpus.record_metas()[rid].kind == Kind.chat]
    return corpus.record(chats[0]) if chats else None
