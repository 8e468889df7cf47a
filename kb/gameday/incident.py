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
from kb.gameday.cues import ACTING, CLAUSE, TELLING, action_kinds, evidence_kinds, line_kinds, similarity
from kb.gameday.leak import LeakGuard
from kb.gameday.timeline import first_page_index, plain, recovery_index, section_text, timeline_of
from kb.retrieval.corpus import Corpus
from kb.retrieval.similar import same_incident
from kb.text.steps import Span, clean_step, sentences

#: an entry this close in meaning (cosine) to a sentence of the root cause states the cause
STATES_CAUSE = 0.55
#: an action this much less close to the Resolution than the closest one is not part of the fix
FIX_SPREAD = 0.08
#: an entry at least this close in meaning to the Resolution section can be the fix it describes
FIX_CLOSE = 0.4
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
    findings: list[int] = field(default_factory=list)  #: entries before the fix that state the cause
    states_cause: list[bool] = field(default_factory=list)  #: per entry: close in meaning to the cause
    resolution: list[str] = field(default_factory=list)  #: the Resolution section's sentences of the fix

    @property
    def fix(self) -> int:
        """Where the fix begins: nothing from here on is shown before the debrief."""
        return min(self.fixes) if self.fixes else self.recovery

    def text(self, n: int) -> str:
        return " ".join(clean_step(self.timeline[n][0].text).split())


def body_sentences(text: str) -> list[str]:
    """The sentences of a section without its heading, code blocks or list markers, one line each."""
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    text = re.sub(r"^\s*#{1,6} [^\n]*\n", "", text.strip())
    out = []
    for s in sentences(Span(0, len(text), text)):
        line = " ".join(clean_step(s.text).split())
        if len(line.split()) >= 3:
            out.append(line)
    return out


def _states_cause(texts: list[str], cause: list[str]) -> list[bool]:
    """Whether each entry, or one of its clauses ("X determines the root cause is Y"), says what a sentence
    of the root cause says."""
    pieces, owner = [], []
    for n, text in enumerate(texts):
        for piece in dict.fromkeys([text, *(c for c in CLAUSE.split(text) if len(c.split()) >= 2)]):
            pieces.append(piece)
            owner.append(n)
    out = [False] * len(texts)
    for n, row in zip(owner, similarity(pieces, cause), strict=True):
        out[n] = out[n] or max(row, default=0.0) >= STATES_CAUSE
    return out


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
    kinds, evidence = line_kinds(texts), evidence_kinds(texts)
    first = first_page_index(timeline, kinds, evidence, record.date)
    resolution = body_sentences(_first_paragraph(section_text(record, SectionName.resolution, SectionName.mitigation)))
    incident = Incident(record, _chat(corpus, record), LeakGuard.for_record(record, corpus.passage_share), timeline,
                        kinds, action_kinds(texts), evidence, first, len(timeline), resolution=resolution)
    sims = similarity(texts, resolution)
    incident.states_cause = _states_cause(texts, cause)
    incident.fixes = _fixes(incident, sims)
    incident.recovery = recovery_index(kinds, incident.fix + 1) if incident.fixes else recovery_index(kinds, first + 1)
    if not incident.fixes and not resolution:
        raise KBError(f"'{source_id}' cannot make a fair game day: no fix can be identified (no Resolution or "
                      "Mitigation section, and no action before the recovery in its timeline)")
    page_words = plain(timeline[incident.first][0].text).split()
    if len(page_words) < PAGE_WORDS:
        raise KBError(f"'{source_id}' cannot make a fair game day: its first report reads only "
                      f"'{' '.join(page_words) or timeline[incident.first][0].text.strip()}', not what was seen")
    incident.findings = [n for n in range(incident.first, incident.fix)
                         if incident.states_cause[n] and kinds[n] not in ACTING]
    return incident


def _first_paragraph(text: str) -> str:
    """A section's lead: its first paragraph of prose (what was done), before any later fix or follow-up."""
    body = re.sub(r"^\s*#{1,6} [^\n]*(?:\n|$)", "", re.sub(r"```.*?```", "\n", text, flags=re.S).strip()).strip()
    if body:
        return re.split(r"\n\s*\n", body, maxsplit=1)[0]
    # a section that is only commands: the commands say what was done
    code = [line.strip() for block in re.findall(r"```[^\n]*\n(.*?)```", text, flags=re.S)
            for line in block.splitlines() if line.strip()]
    return ". ".join(code[:3])


def _fixes(incident: Incident, to_resolution: list[list[float]]) -> list[int]:
    """The fix: the entries after the first report closest in meaning to the Resolution section (all within a
    small spread of the closest), else the last action before the first entry that says things are back."""
    after = range(incident.first + 1, len(incident.timeline))
    if incident.resolution:
        closeness = {n: max(to_resolution[n], default=0.0) for n in after if incident.timeline[n][1]
                     and incident.kinds[n] not in (MessageKind.report, MessageKind.hypothesis, MessageKind.recovery)}
        best = max(closeness.values(), default=0.0)
        if best >= FIX_CLOSE:
            return [n for n, c in closeness.items() if c >= best - FIX_SPREAD]
    back = recovery_index(incident.kinds, incident.first + 1)
    acted = [n for n in range(incident.first + 1, back)
             if incident.kinds[n] in ACTING and incident.actions[n] not in TELLING]
    if not acted and incident.first + 1 < back < len(incident.timeline):
        return [back - 1]  # the entry just before things were back
    return acted[-1:]


def _chat(corpus: Corpus, record: Record) -> Record | None:
    """The chat log of the same incident: same day, sharing a service."""
    chats = [rid for rid in same_incident(corpus, record) if corpus.record_metas()[rid].kind == Kind.chat]
    return corpus.record(chats[0]) if chats else None
