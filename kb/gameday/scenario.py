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
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TypeVar

from kb.core.enums import MessageKind, RubricKind, SectionName
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
from kb.gameday.clues import (
    NOT_EVIDENCE,
    chat_clues,
    clue_key,
    clue_keywords,
    outcome_clues,
    red_herrings,
    related_postmortems,
)
from kb.gameday.cues import line_kinds
from kb.gameday.incident import Incident, read_incident
from kb.gameday.leak import CAUSE_SECTIONS, LeakGuard
from kb.gameday.rubric import build_rubric
from kb.gameday.timeline import TIME, cite, section_spans, section_text, time_to_mitigate
from kb.generation.guard import refusal
from kb.retrieval.corpus import Corpus
from kb.retrieval.search import Query
from kb.text.steps import Span, clean_step, sentences, shorten, split_steps, terms_of

T = TypeVar("T")
DIFFICULTIES = ("easy", "medium", "hard")
#: the severities a game day offers to pick incidents by
SEVERITIES = ("SEV1", "SEV2", "SEV3")
LEVELS = {"easy": (2, 3, 0), "medium": (1, 4, 1), "hard": (0, 6, 2)}  # up front, reveal every N turns, herrings


def _body(text: str) -> str:
    """Section text without its heading line."""
    return re.sub(r"^\s*#{1,6} [^\n]*\n", "", text).strip()


def scenario_name(record: Record, difficulty: str, services: Sequence[str] = ()) -> str:
    """A scenario's id: its date, first shown service and difficulty, and a short hash of the postmortem. Not
    the postmortem's own id, which often names the cause ("...-bad-migration")."""
    service = re.sub(r"[^a-z0-9]+", "-", (list(services)[:1] or ["incident"])[0].lower()).strip("-") or "incident"
    digest = hashlib.sha256(record.id.encode()).hexdigest()[:6]
    return f"gd-{record.date or 'undated'}-{service}-{digest}-{difficulty}"


def shown_services(incident: Incident) -> list[str]:
    """The services the trainee is told about: those the impact, detection or first report name, and none
    whose words belong to the cause only."""
    record = incident.record
    seen = terms_of(" ".join([section_text(record, SectionName.impact, SectionName.detection),
                              incident.text(incident.first), *record.alerts]))
    return [s for s in record.services
            if terms_of(s) and terms_of(s) <= seen and not terms_of(s) & incident.guard.cause_only]


def shown_sources(citations: Sequence[Citation]) -> str:
    """Where a game-master answer comes from, as the trainee sees it during play: the kinds of record
    (timeline, chat, impact), not document ids, which can name the cause; the debrief names them."""
    return "; ".join(dict.fromkeys(c.section.replace("_", " ") for c in citations))


def build_scenario(
    corpus: Corpus,
    source_id: str,
    difficulty: str = "medium",
    scenario_id: str | None = None,
    rng: random.Random | None = None,
    now: dt.datetime | None = None,
) -> Scenario:
    """A scenario from a stored postmortem; KBError saying what is missing when it cannot make a fair one."""
    if difficulty not in DIFFICULTIES:
        raise KBError(f"difficulty must be one of {', '.join(DIFFICULTIES)}, not '{difficulty}'")
    incident = read_incident(corpus, source_id)
    record, chat = incident.record, incident.chat
    clues = _observations(incident)
    built = build_rubric(incident)
    if chat is not None:
        clues += chat_clues(chat, incident.guard, _evidence_until(incident))
    clues += outcome_clues(incident)
    clues = _schedule(corpus, record, clues, difficulty, rng or random.Random(source_id))
    initial, initial_cites = _initial_page(incident)
    truth = _truth(corpus, incident, built.items)
    shown = shown_services(incident)
    services = ", ".join(shown) or "the affected services"
    # text that speaks to an AI or carries markup is never shown to a trainee: listed as dropped instead
    dropped: list[DroppedItem] = []
    clues = _fit(clues, lambda c: c.text, dropped)
    hints = _fit(_hints(corpus, truth, record), lambda h: h.text, dropped)
    truth.timeline = _fit(truth.timeline, lambda t: t.text, dropped)
    sources = {record.id: record.content_hash} | ({chat.id: chat.content_hash} if chat else {})
    return Scenario(
        id=scenario_id or scenario_name(record, difficulty, shown),
        source_id=record.id,
        chat_id=chat.id if chat else None,
        title=f"Game day: {services} ({record.severity or 'incident'}, {record.date or 'undated'})",
        services=shown,
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


def _observations(incident: Incident) -> list[Clue]:
    """What changed before the report and what it looked like until the fix began, and the impact; never an
    action, a guess, the recovery or an entry that states the cause."""
    record, guard = incident.record, incident.guard
    clues: list[Clue] = []
    for n in range(0, incident.fix):
        text = incident.text(n)
        if n == incident.first or not incident.timeline[n][1]:
            continue  # the page is shown as the page; an untimed line heads a day or notes a zone
        if n > incident.first and incident.kinds[n] in NOT_EVIDENCE:
            continue  # responders' actions become outcomes or rubric items, not clues
        if guard.leaks(text) or incident.states_cause[n] or len(TIME.sub("", text).split()) < 3:
            continue
        citation = cite(record, incident.timeline[n][0], SectionName.timeline)
        clues.append(Clue(key=clue_key(citation), text=text, category=incident.evidence[n],
                          trigger=Trigger(keywords=clue_keywords(text)), citations=[citation]))
    later = {when.split()[-1] for _s, when in incident.timeline[incident.fix :] if when}
    spans = [span for span, _section in section_spans(record, SectionName.impact)]
    texts = [" ".join(clean_step(s.text).split()) for s in spans]
    for span, text, kind in zip(spans, texts, line_kinds(texts), strict=True):
        mentions_later = any(t in text or t.lstrip("0") in text for t in later)
        if guard.leaks(text) or kind in NOT_EVIDENCE or mentions_later or len(text.split()) < 3:
            continue
        citation = cite(record, span, SectionName.impact)
        clues.append(Clue(key=clue_key(citation), text=text, category="customer",
                          trigger=Trigger(keywords=clue_keywords(text)), citations=[citation]))
    return clues


def _evidence_until(incident: Incident) -> dt.datetime | None:
    """Chat output counts as evidence until the fix began (None when that time is not known)."""
    record, timeline = incident.record, incident.timeline
    cut_time = timeline[incident.fix][1] if incident.fix < len(timeline) else None
    if incident.chat is None or not record.date or not cut_time:
        return None
    hh, mm = cut_time.split()[-1].split(":")
    return dt.datetime.combine(record.date, dt.time(int(hh), int(mm)))


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


def _truth(corpus: Corpus, incident: Incident, rubric: list[RubricItem]) -> Truth:
    """The answer key: root cause, contributing factors, the mitigation that worked, the real timeline."""
    record, timeline = incident.record, incident.timeline
    return Truth(
        root_cause=_body(section_text(record, SectionName.root_cause)),
        cause_text=section_text(record, *CAUSE_SECTIONS),
        cause_terms=sorted(incident.guard.cause_only),
        contributing_factors=[
            " ".join(clean_step(s.text).split()) for s, _ in section_spans(record, SectionName.contributing_factors)
        ],
        mitigation=" ".join(i.text for i in rubric if i.kind == RubricKind.mitigation),
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


def _briefing(incident: Incident, services: str) -> str:
    """What the trainee is told at the start: their role, the services, the day, and how to play."""
    record = incident.record
    role = _role(record)
    when = record.date.strftime("%A %Y-%m-%d") if record.date else "a working day"
    paged = incident.evidence[incident.first] == "alert"
    how_it_starts = "you have just been paged" if paged else "something has just been reported"
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


def _initial_page(incident: Incident) -> tuple[str, list[Citation]]:
    """The first report as it came: the chat's first report (an alert as it fired, a user's message) up to
    the timeline's, else the timeline's first report."""
    record, chat, guard = incident.record, incident.chat, incident.guard
    candidates: list[tuple[str, list[Citation]]] = []
    if chat is not None:
        firsts = [m.text.split("\n", 1)[0] for m in chat.messages[:40]]
        for message, line, kind in zip(chat.messages, firsts, line_kinds(firsts), strict=False):
            if kind == MessageKind.report:
                at = chat.text.find(line, message.start)
                when = message.ts.strftime("%H:%M UTC") if message.ts else ""
                candidates.append((f"{when} {line}".strip(), [cite(chat, Span(at, at + len(line), line),
                                                                   SectionName.chat)]))
                break
    span = incident.timeline[incident.first][0]
    candidates.append((incident.text(incident.first), [cite(record, span, SectionName.timeline)]))
    for text, cites in candidates:
        if not guard.leaks(text) and refusal(text) is None:
            return text, cites
    alert = record.alerts[0] if record.alerts else "a problem on " + (", ".join(shown_services(incident))
                                                                       or "production")
    return f"Reported: {alert}", []


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


def spin(corpus: Corpus, pool: list[str], difficulty: str, rng: random.Random) -> Scenario:
    """A scenario from a random postmortem of ``pool``, passing over those that cannot make a fair one; KBError
    with the most common reasons when none can."""
    order = list(pool)
    rng.shuffle(order)
    reasons = []
    for source in order:
        try:
            return build_scenario(corpus, source, difficulty)
        except KBError as exc:
            reasons.append(str(exc).split(": ", 1)[-1])
    common = Counter(reasons).most_common(2)
    raise KBError(f"none of the {len(pool)} postmortems to choose from can make a fair game day; most often: "
                  + "; ".join(f"{why} ({n})" for why, n in common))


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
