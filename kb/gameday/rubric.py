"""The rubric of a scenario: the fix that worked (the timeline's fix actions and the Resolution section's own
words), the findings that stated the cause before it, the communication (declaring, paging, telling people,
said by a responder, not a system's log line) and what made things worse, each cited.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kb.core.enums import ActionKind, MessageKind, RubricKind, SectionName
from kb.core.models import Citation, Record, RubricItem
from kb.gameday.cues import ACTING, SAME_ACTION, TELLING, action_kinds, closeness
from kb.gameday.incident import Incident
from kb.gameday.timeline import cite
from kb.retrieval.cues import read
from kb.text.steps import Span, shorten, terms_of

#: a chat message says it made things worse only when that kind wins by this margin
CLEAR = 0.05


@dataclass
class Rubric:
    """The rubric items, and where in the timeline the responders' findings are."""

    items: list[RubricItem] = field(default_factory=list)
    #: the timeline index of each diagnosis item's finding, in item order
    findings: list[int] = field(default_factory=list)


def build_rubric(incident: Incident) -> Rubric:
    """The rubric: the fix, the findings before it, the communication and what made things worse."""
    rubric = Rubric(findings=list(incident.findings))
    when = incident.timeline[incident.fix][1] if incident.fix < len(incident.timeline) else None
    until = when.split()[-1] if when else None
    rubric.items += _mitigations(incident)
    rubric.items += _diagnoses(incident)
    rubric.items += _communication(incident)
    harmful = _harmful_timeline(incident)
    rubric.items += harmful
    if incident.chat is not None:
        rubric.items += _harmful_chat(incident.chat, until, None if harmful else incident)
    return rubric


def _action_of(incident: Incident, n: int) -> ActionKind | None:
    """The kind of action a fix entry is; for an entry that found what to fix ("finds the CREATE INDEX holding
    the lock"), the kind of the step of the fix taken after it ("runs pg_cancel_backend"), which a player names
    by what the finding names."""
    if incident.kinds[n] in ACTING:
        return incident.actions[n]
    step = next((m for m in sorted(incident.fixes) if m > n and incident.kinds[m] in ACTING), None)
    return incident.actions[step] if step is not None else incident.actions[n]


def _mitigations(incident: Incident) -> list[RubricItem]:
    """The fix: each timeline entry of it, and the Resolution section's sentences that say what was done."""
    record = incident.record
    items = [
        RubricItem(id=f"mitigation-{k + 1}", kind=RubricKind.mitigation, text=incident.text(n),
                   action=_action_of(incident, n), terms=sorted(terms_of(incident.text(n))),
                   citations=[cite(record, incident.timeline[n][0], SectionName.timeline)])
        for k, n in enumerate(incident.fixes)
    ]
    if incident.resolution:
        said = " ".join(incident.resolution[:4])
        section = next((s for s in record.sections if s.name in (SectionName.resolution, SectionName.mitigation)),
                       None)
        cites = [Citation(doc_id=record.id, section=section.name, start=section.start, end=section.end,
                          quote=record.text[section.start : section.end][:240])] if section else []
        items.append(RubricItem(id="mitigation-resolution", kind=RubricKind.mitigation, text=shorten(said, 600),
                                terms=sorted(terms_of(said)), citations=cites))
    return items


def _diagnoses(incident: Incident) -> list[RubricItem]:
    """Diagnosis: the entries before the fix that state the cause."""
    return [
        RubricItem(id=f"diagnosis-{n}", kind=RubricKind.diagnosis, text=incident.text(n),
                   terms=sorted(terms_of(incident.text(n))),
                   citations=[cite(incident.record, incident.timeline[n][0], SectionName.timeline)])
        for n in incident.findings
    ]


def _communication(incident: Incident) -> list[RubricItem]:
    """Communication: a responder declaring, paging the owners or telling people (not an alert paging)."""
    items: list[RubricItem] = []
    for n in range(incident.first, len(incident.timeline)):
        kind = incident.actions[n]
        if kind in TELLING and incident.kinds[n] in (*ACTING, None):  # None: a plain "pages data-oncall"
            items.append(RubricItem(id=f"communication-{kind}-{n}", kind=RubricKind.communication,
                                    text=incident.text(n), action=kind,
                                    citations=[cite(incident.record, incident.timeline[n][0], SectionName.timeline)]))
    return items


def _harmful_timeline(incident: Incident) -> list[RubricItem]:
    """What hurt, from the timeline: the action just before an entry that says it made things worse, and a step
    whose own entry says so in one of its sentences ("scaling from 12 to 18 tried; it makes rebalances more
    frequent")."""
    items: list[RubricItem] = []
    entries = range(incident.first + 1, incident.fix)
    acting = [n for n in entries if incident.kinds[n] in ACTING and incident.actions[n] not in TELLING]
    worse_itself = {n for n in acting if MessageKind.made_worse in incident.sentence_kinds[n]}
    for n in entries:
        if n in worse_itself:
            span = incident.timeline[n][0]
            items.append(RubricItem(id=f"harmful-{n}", kind=RubricKind.harmful, text=_arrows(incident.text(n)),
                                    action=incident.actions[n], terms=sorted(terms_of(incident.text(n))),
                                    citations=[cite(incident.record, span, SectionName.timeline)]))
        if incident.kinds[n] != MessageKind.made_worse:
            continue
        acted = next((b for b in range(n - 1, incident.first - 1, -1) if incident.kinds[b] in ACTING
                      and incident.actions[b] not in TELLING), None)
        if acted is None:
            continue
        span = Span(incident.timeline[acted][0].start, incident.timeline[n][0].end,
                    incident.record.text[incident.timeline[acted][0].start : incident.timeline[n][0].end])
        # a decision (or a question) is not the step: then the entry that says it made things worse names the step
        step = n if incident.kinds[acted] == MessageKind.decision else acted
        if step in worse_itself:
            continue  # already an item of its own
        said = _arrows(incident.text(step))
        text = said if step == n else said + " -> " + _arrows(incident.text(n))
        items.append(RubricItem(id=f"harmful-{step}", kind=RubricKind.harmful, text=text,
                                action=incident.actions[step], terms=sorted(terms_of(said)),
                                citations=[cite(incident.record, span, SectionName.timeline)]))
    return items


def _arrows(text: str) -> str:
    """An entry's own arrows ("110 -> 120") written as "→", so " -> " only ever parts a step from its effect."""
    return text.replace(" -> ", " → ")


def _harmful_chat(chat: Record, until: str | None, incident: Incident | None = None) -> list[RubricItem]:
    """What hurt, from the chat before the fix (``until``, "HH:MM"): the action a responder took just before a
    message that clearly says it made things worse; with ``incident`` (its timeline says nothing made things
    worse), told as the timeline's entry for that step when it has one (``_timeline_step``)."""
    messages = [m for m in chat.messages if until is None or m.ts is None or m.ts.strftime("%H:%M") < until]
    firsts = [m.text.split("\n", 1)[0] for m in messages]
    readings = read(firsts)
    kinds = [r.kind if r.verdict.margin >= CLEAR else None for r in readings]
    worse = [r.clearly(MessageKind.made_worse, CLEAR) for r in readings]
    actions = action_kinds(firsts)
    items: list[RubricItem] = []
    done: set[int] = set()
    for n in range(len(kinds)):
        if not worse[n]:
            continue
        acted = next((b for b in range(n - 1, max(-1, n - 7), -1) if b not in done and kinds[b] in ACTING
                      and actions[b] not in TELLING), None)
        if acted is None:
            continue
        done.update(range(acted, n))
        # a decision agreeing to a proposal ("ok, let's try. 120 -> 180") names its step in that proposal, the
        # message right before it that opens with a question ("can we raise the pool to buy time?")
        step = acted - 1 if kinds[acted] == MessageKind.decision and acted > 0 and readings[acted - 1].asks else acted
        earlier, message = messages[step], messages[n]
        said = _arrows(firsts[acted] if step == acted else firsts[step] + " " + firsts[acted])
        effect = _arrows(" ".join(firsts[n].split()))
        span = Span(earlier.start, message.end, chat.text[earlier.start : message.end])
        item = RubricItem(id=f"harmful-chat-{acted}", kind=RubricKind.harmful,
                          text=shorten(said, 200) + " -> " + effect, action=actions[step] or actions[acted],
                          terms=sorted(terms_of(said)), citations=[cite(chat, span, SectionName.chat)])
        if incident is not None:
            item = _told_by_timeline(incident, item, said, effect, message.ts.strftime("%H:%M") if message.ts else None)
        items.append(item)
    return items


def _told_by_timeline(incident: Incident, item: RubricItem, said: str, effect: str, when: str | None) -> RubricItem:
    """A chat's harmful step told as the timeline's entry for it (``_timeline_step``), citing both; unchanged when
    the timeline has no entry for it."""
    entry = _timeline_step(incident, said, when)
    if entry is None:
        return item
    entry_said = _arrows(incident.text(entry))
    timeline = cite(incident.record, incident.timeline[entry][0], SectionName.timeline)
    return item.model_copy(update={
        "id": f"harmful-{entry}", "text": entry_said + " -> " + effect,
        "action": incident.actions[entry] or item.action, "terms": sorted(terms_of(entry_said) | set(item.terms)),
        "citations": [timeline, *item.citations]})


def _timeline_step(incident: Incident, said: str, before: str | None) -> int | None:
    """The timeline's entry for a step a chat says made things worse: the entry before the fix, and not after
    the message that said so (``before``, "HH:MM"), closest to it in meaning, as close as a game day needs to
    call two wordings the same step; when that entry only proposed or agreed to it (a decision), the action
    the timeline records right after it. None when no entry is that close."""
    timed = [(n, when) for n in range(incident.first + 1, min(incident.fix, len(incident.timeline)))
             if (when := incident.timeline[n][1])]
    entries = [n for n, when in timed if before is None or when.split()[-1] <= before]  # both "HH:MM"
    close = closeness(said, [incident.text(n) for n in entries]) if entries else []
    if not close or max(close) < SAME_ACTION:
        return None
    entry = entries[close.index(max(close))]
    if incident.kinds[entry] == MessageKind.action:
        return entry
    return next((n for n in entries if n > entry and incident.kinds[n] == MessageKind.action
                 and incident.actions[n] not in TELLING), entry)


