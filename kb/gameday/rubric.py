"""The rubric of a scenario: the mitigation that worked, the finding that preceded it, the communication
(declaring, paging, telling support) and what made things worse, each cited, from the timeline and chat.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kb.core.enums import RubricKind, SectionName
from kb.core.models import Record, RubricItem
from kb.gameday.cues import ACTION_VERBS, ESCALATION, FINDING, TELLING, WORSE, action_class
from kb.gameday.timeline import cite
from kb.text.steps import Span, clean_step, is_change, shorten, terms_of


@dataclass
class Rubric:
    """The rubric items, and where in the timeline the responders' findings are."""

    items: list[RubricItem] = field(default_factory=list)
    #: the timeline index of each diagnosis item's finding, in item order
    findings: list[int] = field(default_factory=list)


def build_rubric(record: Record, chat: Record | None, timeline: list[tuple[Span, str | None]], first: int,
            recovery: int) -> Rubric:
    """The rubric: the mitigation that worked, the findings before it, the communication and, from the chat,
    what made things worse."""
    rubric = Rubric()
    rubric.items += _mitigations(record, timeline, first, recovery)
    diagnoses, rubric.findings = _diagnoses(record, timeline, first, recovery)
    rubric.items += diagnoses
    rubric.items += _communication(record, timeline, first)
    if chat is not None:
        rubric.items += _harmful(chat)
    return rubric


def _mitigations(record: Record, timeline: list[tuple[Span, str | None]], first: int,
                 recovery: int) -> list[RubricItem]:
    """The mitigation that worked: the actions between the last finding and recovery, with that finding."""
    items: list[RubricItem] = []
    findings = [n for n in range(first, recovery) if FINDING.search(timeline[n][0].text)]
    for n in range(max(first, min(findings[-1] + 1 if findings else recovery, recovery - 3)), recovery):
        span, _ = timeline[n]
        kind = action_class(span.text)
        if kind is None or kind in TELLING or not ACTION_VERBS.search(span.text):
            continue
        context = timeline[n - 1][0].text if n > 0 else ""
        items.append(
            RubricItem(
                id=f"mitigation-{len(items) + 1}",
                kind=RubricKind.mitigation,
                text=" ".join(clean_step(span.text).split()),
                action=kind,
                terms=sorted(terms_of(span.text + " " + context) - terms_of("runs run select the a")),
                citations=[cite(record, span, SectionName.timeline)],
            )
        )
    return items


def _diagnoses(record: Record, timeline: list[tuple[Span, str | None]], first: int,
               recovery: int) -> tuple[list[RubricItem], list[int]]:
    """Diagnosis: the findings that preceded the fix, and their timeline indexes."""
    items: list[RubricItem] = []
    findings: list[int] = []
    for n in range(first, recovery):
        span, _ = timeline[n]
        if FINDING.search(span.text):
            items.append(
                RubricItem(
                    id=f"diagnosis-{n}",
                    kind=RubricKind.diagnosis,
                    text=" ".join(clean_step(span.text).split()),
                    terms=sorted(terms_of(span.text)),
                    citations=[cite(record, span, SectionName.timeline)],
                )
            )
            findings.append(n)
    return items, findings


def _communication(record: Record, timeline: list[tuple[Span, str | None]], first: int) -> list[RubricItem]:
    """Communication: declaring, paging the owners, telling support / customers."""
    items: list[RubricItem] = []
    for n in range(first, len(timeline)):
        span, _ = timeline[n]
        kind = action_class(span.text)
        if kind in TELLING and ESCALATION.search(span.text):
            items.append(
                RubricItem(
                    id=f"communication-{kind}-{n}",
                    kind=RubricKind.communication,
                    text=" ".join(clean_step(span.text).split()),
                    action=kind,
                    citations=[cite(record, span, SectionName.timeline)],
                )
            )
    return items


def _harmful(chat: Record) -> list[RubricItem]:
    """What hurt: the change a chat message says made it worse (the nearest change before that message, and
    the kind of action the responders discussed just before it)."""
    items: list[RubricItem] = []
    done: set[int] = set()
    for n, message in enumerate(chat.messages):
        if not WORSE.search(message.text.split("\n", 1)[0]):
            continue
        window = [b for b in range(n - 1, max(-1, n - 7), -1) if b not in done]
        changed = next((b for b in window if is_change(chat.messages[b].text) or action_class(
            chat.messages[b].text.split("\n", 1)[0]) not in (None, *TELLING)), None)
        if changed is None:
            continue
        kinds = [action_class(chat.messages[b].text.split("\n", 1)[0]) for b in window if b <= changed]
        kind = next((k for k in kinds if k is not None and k not in TELLING), None)
        if kind is None:
            continue
        done.update(b for b in window if b <= changed)
        earlier = chat.messages[changed]
        firsts = {b: chat.messages[b].text.split("\n", 1)[0] for b in window if changed - 2 <= b <= changed}
        said = " ".join(firsts.values())
        proposed = next((firsts[b] for b in sorted(firsts, reverse=True) if action_class(firsts[b]) == kind), said)
        span = Span(earlier.start, message.end, chat.text[earlier.start : message.end])
        items.append(
            RubricItem(
                id=f"harmful-{changed}",
                kind=RubricKind.harmful,
                text=shorten(proposed, 200) + " -> " + " ".join(message.text.split("\n", 1)[0].split()),
                action=kind,
                terms=sorted(terms_of(said)),
                citations=[cite(chat, span, SectionName.chat)],
            )
        )
    return items
