"""Game-day scenarios built from real past incidents.

A scenario is built from a postmortem (and the incident's chat log when one is stored):

- the **briefing** names the services, the on-call role that was paged and what the trainee can do; the
  **initial page** is the first alert as it fired;
- **clues** are the incident's own observations before it was mitigated: timeline entries (deploys,
  alerts, error rates), impact, and the output responders pasted into the chat log, each citing its
  source, revealed when asked for (their keywords) or after some turns;
- **action outcomes** are what happened when responders did something that did not fix it (a rollback
  that changed nothing), or made it worse;
- the **answer key** (root cause, contributing factors, the mitigation that worked, time to mitigate,
  the real timeline and the rubric) stays in ``truth``.

Nothing that states the cause reaches the trainee: a clue that shares an eight-word run with the root-cause
text, or several of the words only the cause sections use, is left out (``kb.gameday.leak``).

Difficulty: easy shows two clues up front and reveals the rest sooner; hard shows none, reveals later and
keeps two red herrings, real observations from other incidents of the same services.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from kb.core.enums import RubricKind, SectionName
from kb.core.errors import KBError
from kb.core.models import (
    Citation,
    Clue,
    DraftItem,
    DroppedItem,
    Kind,
    Record,
    RubricItem,
    Scenario,
    Trigger,
    Truth,
)
from kb.gameday.clues import chat_clues, clue_key, clue_keywords, outcome_clues, red_herrings, related_postmortems
from kb.gameday.cues import ACTION_VERBS, ESCALATION, FINDING, category_of
from kb.gameday.leak import CAUSE_SECTIONS, LeakGuard
from kb.gameday.rubric import build_rubric
from kb.gameday.timeline import (
    cite,
    first_page_index,
    recovery_index,
    section_spans,
    section_text,
    time_to_mitigate,
    timeline_of,
)
from kb.generation.guard import refusal
from kb.retrieval.corpus import Corpus
from kb.retrieval.search import Query
from kb.retrieval.similar import same_incident
from kb.text.steps import Span, clean_step, sentences, shorten, split_steps

T = TypeVar("T")
DIFFICULTIES = ("easy", "medium", "hard")
#: the severities a game day offers to pick incidents by
SEVERITIES = ("SEV1", "SEV2", "SEV3")
LEVELS = {"easy": (2, 3, 0), "medium": (1, 4, 1), "hard": (0, 6, 2)}  # up front, reveal every N turns, herrings


def _body(text: str) -> str:
    """Section text without its heading line."""
    return re.sub(r"^\s*#{1,6} [^\n]*\n", "", text).strip()


def scenario_name(record: Record, difficulty: str) -> str:
    """A scenario's id: its date, first service and difficulty, and a short hash of the postmortem. Not the
    postmortem's own id, which often names the cause ("...-bad-migration")."""
    service = re.sub(r"[^a-z0-9]+", "-", (record.services[:1] or ["incident"])[0].lower()).strip("-") or "incident"
    digest = hashlib.sha256(record.id.encode()).hexdigest()[:6]
    return f"gd-{record.date or 'undated'}-{service}-{digest}-{difficulty}"


def shown_sources(citations: Sequence[Citation]) -> str:
    """Where a game-master answer comes from, as the trainee sees it during play: the kinds of record
    (timeline, chat, impact), not document ids, which can name the cause; the debrief names them."""
    return "; ".join(dict.fromkeys(c.section.replace("_", " ") for c in citations))


def find_chat(corpus: Corpus, record: Record) -> str | None:
    """The chat log of the same incident: same day, sharing a service."""
    chats = [rid for rid in same_incident(corpus, record) if corpus.record_metas()[rid].kind == Kind.chat]
    return chats[0] if chats else None


@dataclass
class _Incident:
    """The postmortem a scenario is built from, its chat log, and where its timeline's page and recovery are."""

    record: Record
    chat: Record | None
    guard: LeakGuard
    timeline: list[tuple[Span, str | None]]
    first: int  # the timeline index of the first page
    recovery: int  # the timeline index of the recovery


def build_scenario(
    corpus: Corpus,
    source_id: str,
    difficulty: str = "medium",
    scenario_id: str | None = None,
    rng: random.Random | None = None,
    now: dt.datetime | None = None,
) -> Scenario:
    """A scenario from a stored postmortem."""
    if difficulty not in DIFFICULTIES:
        raise KBError(f"difficulty must be one of {', '.join(DIFFICULTIES)}, not '{difficulty}'")
    incident = _incident(corpus, source_id)
    record, chat = incident.record, incident.chat
    clues = _observations(incident)
    built = build_rubric(record, chat, incident.timeline, incident.first, incident.recovery)
    if chat is not None:
        clues += chat_clues(chat, incident.guard, _evidence_until(incident, built.findings))
    fixes = {i.action for i in built.items if i.kind == RubricKind.mitigation}
    clues += [c for c in outcome_clues(record, incident.timeline, incident.first, incident.recovery)
              if c.trigger.on_action not in fixes]
    clues = _schedule(corpus, record, clues, difficulty, rng or random.Random(source_id))
    initial, initial_cites = _initial_page(record, chat, incident.timeline, incident.first, incident.guard)
    truth = _truth(corpus, incident, built.items)
    services = ", ".join(record.services) or "the affected services"
    # text that speaks to an AI or carries markup is never shown to a trainee: listed as dropped instead
    dropped: list[DroppedItem] = []
    clues = _fit(clues, lambda c: c.text, dropped)
    hints = _fit(_hints(corpus, truth, record), lambda h: h.text, dropped)
    truth.timeline = _fit(truth.timeline, lambda t: t.text, dropped)
    sources = {record.id: record.content_hash} | ({chat.id: chat.content_hash} if chat else {})
    return Scenario(
        id=scenario_id or scenario_name(record, difficulty),
        source_id=record.id,
        chat_id=chat.id if chat else None,
        title=f"Game day: {services} ({record.severity or 'incident'}, {record.date or 'undated'})",
        services=record.services,
        severity=record.severity,
        difficulty=difficulty,
        briefing=_briefing(incident, services),
        initial_page=initial,
        initial_citations=initial_cites,
        clues=clues,
        hints=hints,
        truth=truth,
        dropped=dropped,
        source_hashes=sources,
        related_ids=related_postmortems(corpus, record),
        created=now or dt.datetime.now(dt.UTC),
    )


def _incident(corpus: Corpus, source_id: str) -> _Incident:
    """The stored postmortem with a root cause, its chat log, and its timeline; KBError for anything else."""
    record = corpus.record(source_id)
    if record.kind != Kind.postmortem:
        postmortems = [rid for rid in same_incident(corpus, record)
                       if corpus.record_metas()[rid].kind == Kind.postmortem]
        hint = f" (the postmortem of the same incident is '{postmortems[0]}')" if postmortems else ""
        raise KBError(f"'{source_id}' is a {record.kind.value}; game days are built from postmortems{hint}")
    if not section_text(record, SectionName.root_cause).strip():
        raise KBError(f"'{source_id}' has no root cause section to build an answer key from")
    guard = LeakGuard.for_record(record, corpus.passage_share)
    chat_id = find_chat(corpus, record)
    chat = corpus.record(chat_id) if chat_id else None
    timeline = timeline_of(record)
    first = first_page_index(timeline, record.date)
    return _Incident(record, chat, guard, timeline, first, recovery_index(timeline, first + 1))


def _observations(incident: _Incident) -> list[Clue]:
    """Observations before the page (what changed) and until the fix (what it looked like), and the impact."""
    record, guard, timeline = incident.record, incident.guard, incident.timeline
    clues: list[Clue] = []
    for n in range(0, incident.recovery):
        span = timeline[n][0]
        if (ACTION_VERBS.search(span.text) or ESCALATION.search(span.text)) and n >= incident.first:
            continue  # responders' actions become outcomes or rubric items, not clues
        if guard.leaks(span.text) or FINDING.search(span.text):
            continue
        category, extra = category_of(span.text)
        citation = cite(record, span, SectionName.timeline)
        clues.append(
            Clue(
                key=clue_key(citation),
                text=" ".join(clean_step(span.text).split()),
                category=category,
                trigger=Trigger(keywords=clue_keywords(span.text, extra)),
                citations=[citation],
            )
        )
    for span, section in section_spans(record, SectionName.impact):
        if not guard.leaks(span.text) and not ACTION_VERBS.search(span.text):
            citation = cite(record, span, section)
            clues.append(
                Clue(
                    key=clue_key(citation),
                    text=" ".join(clean_step(span.text).split()),
                    category="customer",
                    trigger=Trigger(keywords=clue_keywords(span.text, {"impact", "custom", "user", "support"})),
                    citations=[citation],
                )
            )
    return clues


def _evidence_until(incident: _Incident, findings: list[int]) -> dt.datetime | None:
    """Chat output counts as evidence until the responders' last finding before the fix (a minute after it)."""
    record, timeline = incident.record, incident.timeline
    cutoff = max(findings) if findings else incident.recovery
    cut_time = timeline[cutoff][1] if cutoff < len(timeline) else None
    if incident.chat is None or not record.date or not cut_time:
        return None
    hh, mm = cut_time.split()[-1].split(":")
    return dt.datetime.combine(record.date, dt.time(int(hh), int(mm))) + dt.timedelta(minutes=1)


def _schedule(corpus: Corpus, record: Record, clues: list[Clue], difficulty: str,
              rng: random.Random) -> list[Clue]:
    """When each observation is revealed (up front or after some turns), and red herrings as hard as asked."""
    up_front, every, herrings = LEVELS[difficulty]
    observation = [c for c in clues if c.category != "outcome"]
    for n, clue in enumerate(observation):
        if n < up_front:
            clue.trigger.up_front = True
        else:
            clue.trigger.after_turns = every * (n - up_front + 1)
    if herrings:
        clues += red_herrings(corpus, record, herrings, rng)
    return clues


def _truth(corpus: Corpus, incident: _Incident, rubric: list[RubricItem]) -> Truth:
    """The answer key: root cause, contributing factors, the mitigation that worked, the real timeline."""
    record, timeline = incident.record, incident.timeline
    return Truth(
        root_cause=_body(section_text(record, SectionName.root_cause)),
        cause_text=section_text(record, *CAUSE_SECTIONS),
        cause_terms=sorted(incident.guard.cause_only),
        contributing_factors=[
            " ".join(clean_step(s.text).split()) for s, _ in section_spans(record, SectionName.contributing_factors)
        ],
        mitigation=" ".join(i.text for i in rubric if i.kind == RubricKind.mitigation)
        or " ".join(clean_step(s.text) for s, _ in section_spans(record, SectionName.resolution)[:2]),
        time_to_mitigate=time_to_mitigate(timeline, incident.first, incident.recovery),
        impact_duration=record.duration,
        timeline=[
            DraftItem(section=SectionName.timeline, text=" ".join(clean_step(s.text).split()), time=when,
                      citations=[cite(record, s, SectionName.timeline)])
            for s, when in timeline
        ],
        rubric=rubric,
        citations=[
            Citation(
                doc_id=record.id, section=s.name, start=s.start, end=s.end, quote=record.text[s.start : s.end][:240]
            )
            for s in record.sections
            if s.name in CAUSE_SECTIONS
        ],
        runbooks=_helpful_runbooks(corpus, record),
    )


def _briefing(incident: _Incident, services: str) -> str:
    """What the trainee is told at the start: their role, the services, the day, and how to play."""
    record, timeline = incident.record, incident.timeline
    role = _role(record)
    when = record.date.strftime("%A %Y-%m-%d") if record.date else "a working day"
    paged = bool(timeline) and re.search(r"\b(fires?|fired|pages?|paged|alert)\b", timeline[incident.first][0].text,
                                         re.I)
    how_it_starts = "you have just been paged" if paged or not timeline else "something has just been reported"
    return (
        f"You are {role} for {services}. It is {when}; {how_it_starts}.\n"
        "Work the incident as you would for real: ask for data (\"show me the error logs\", \"what changed in "
        "the last hour?\", \"what does the dashboard say?\"), say what you think is going on, and take actions "
        "(\"roll back the deploy\", \"page the database on-call\"). The game master answers only from what was "
        "really observed. Type `hint` for a hint (it costs points) and `end` to finish."
    )


def _fit(items: list[T], text_of: Callable[[T], str], dropped: list[DroppedItem]) -> list[T]:
    """The items whose text may be shown (``kb.generation.guard.refusal``); the others added to ``dropped``."""
    kept = []
    for item in items:
        why = refusal(text_of(item))
        if why:
            dropped.append(DroppedItem(text=text_of(item), reason=why))
        else:
            kept.append(item)
    return kept


def _role(record: Record) -> str:
    detection = section_text(record, SectionName.detection)
    match = re.search(r"\bpag(?:ed|ing|es)\s+`?([a-z][\w-]*-?oncall|sre-primary|[a-z]+-primary)`?", detection)
    return f"the on-call engineer ({match.group(1)})" if match else "the on-call engineer"


def _initial_page(
    record: Record, chat: Record | None, timeline: list[tuple[Span, str | None]], first: int, guard: LeakGuard
) -> tuple[str, list[Citation]]:
    """The first alert as it fired: from the chat log, else the timeline, else the alert's name."""
    candidates: list[tuple[str, list[Citation]]] = []
    if chat is not None:
        for message in chat.messages:
            if "FIRING" in message.text or message.author.lower() in ("alertmanager", "pagerduty"):
                line = message.text.split("\n", 1)[0]
                at = chat.text.find(line, message.start)
                span = Span(at, at + len(line), line)
                when = message.ts.strftime("%H:%M UTC") if message.ts else ""
                candidates.append((f"{when} {line}".strip(), [cite(chat, span, SectionName.chat)]))
                break
    if timeline:
        span = timeline[first][0]
        candidates.append((" ".join(clean_step(span.text).split()), [cite(record, span, SectionName.timeline)]))
    for text, cites in candidates:
        if not guard.leaks(text) and refusal(text) is None:
            return text, cites
    alert = record.alerts[0] if record.alerts else "an alert on " + (", ".join(record.services) or "production")
    return f"[FIRING] {alert}", []


def _helpful_runbooks(corpus: Corpus, record: Record) -> list[str]:
    text = " ".join([*record.alerts[:2], section_text(record, SectionName.detection)[:600]])
    if not text.strip():
        return []
    return [d.record.id for d in corpus.search(Query(text=text, k=3, kinds=(Kind.runbook,)))]


def _hints(corpus: Corpus, truth: Truth, record: Record) -> list[DraftItem]:
    """From general to specific: the runbook for the alert, then the responders' diagnostic finding."""
    hints: list[DraftItem] = []
    for rid in truth.runbooks[:1]:
        runbook = corpus.record(rid)
        for section in runbook.sections:
            if section.name in (SectionName.triage, SectionName.diagnosis):
                steps = [s for s in split_steps(runbook.text[section.start : section.end], section.start)
                         if refusal(s.text) is None]  # never an injected or markup line as a hint
                if steps:
                    s = steps[0]
                    hints.append(
                        DraftItem(
                            section="hint",
                            text=f"The runbook '{runbook.title}' starts with: "
                            + shorten(clean_step(s.text), 300),
                            citations=[Citation(doc_id=rid, section=section.name, start=s.start, end=s.end,
                                                quote=s.text[:240])],
                        )
                    )
                    break
    guard = LeakGuard.for_record(record, corpus.passage_share)
    for item in truth.rubric:
        if item.kind == RubricKind.diagnosis:
            first_sentence = sentences(Span(0, len(item.text), item.text))[0].text
            words = first_sentence.split()
            vague = " ".join(words[: max(4, len(words) // 2)]) + " ..."
            if not guard.leaks(vague):
                hints.append(DraftItem(section="hint", text=f"Responders got further once this happened: {vague}",
                                       citations=item.citations))
            break
    if record.alerts:
        hints.append(DraftItem(section="hint", text="Ask what changed shortly before the first alert.",
                               citations=truth.timeline[0].citations if truth.timeline else []))
    return hints


def eligible(corpus: Corpus, service: str | None = None, severity: str | None = None) -> list[str]:
    """Postmortems a scenario can be built from, under the filters."""
    out = []
    for rid, meta in sorted(corpus.record_metas().items()):
        if meta.kind != Kind.postmortem:
            continue
        if service and service.lower() not in {s.lower() for s in meta.services}:
            continue
        if severity and (meta.severity or "").upper() != severity.upper():
            continue
        out.append(rid)
    return out
