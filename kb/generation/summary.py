"""Incident summaries and postmortem drafts from a chat log, every line citing its messages.

The offline path reads the messages in order and judges what each does by meaning (``kb.retrieval.cues``:
a report or alert, an observation, a hypothesis, the cause found, a decision, an action, one that made
things worse, the statement that things are back, follow-up work) and builds the timeline and a postmortem
template from the messages themselves: the first signal is the first report, recovery the statement that
things are back after the last step that made them worse, the fault the messages that explain it. With an
LLM, the model writes the prose sections on top of the same cited messages (a reply that is not usable is
set aside, and the summary says so); the timeline and action items stay extractive. Every line cites
message spans checked by ``kb.generation.grounding``. Regular expressions read syntax only.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from kb.clients.openai_client import ChatModel
from kb.core.drafts import Draft
from kb.core.enums import Generator, MessageKind, SectionName
from kb.core.errors import KBError
from kb.core.models import Citation, DraftItem, DroppedItem, Kind, Message, Passage, Record
from kb.generation.chatlines import first_line_span, judged_text
from kb.generation.grounding import Evidence, References, require_grounded
from kb.generation.guard import caution_note
from kb.generation.prompting import grounded_lines
from kb.retrieval import cues
from kb.retrieval.meaning import classifier, similarity

#: lines of the impact section
IMPACT_LINES = 4
CLOCK = re.compile(r"\b([01]?\d|2[0-3]):([0-5]\d)\b")
#: authors that are programs, by name (chat exports mark apps "NAME APP"; transcripts name the bot)
BOTS = {"alertmanager", "pagerduty", "argocd", "opsgenie", "grafana", "prometheus", "statuspage", "slackbot"}

PROSE_SECTIONS = ("summary", "leadup", "fault", "impact", "detection", "response", "recovery")
TEMPLATE = ("summary", "leadup", "fault", "impact", "detection", "response", "recovery", "timeline", "action items")
RESPONSE = (MessageKind.hypothesis, MessageKind.decision, MessageKind.action, MessageKind.made_worse)
#: an action this close in meaning (cosine of the bundled model) to a decision and the message it answers
#: carries that decision out; two wordings of one step ("turning the flag off skips the call" / "flag OFF at
#: 10:40") score about 0.6, a different step taken in the same minutes about 0.3
CARRIES_OUT = 0.45


@dataclass
class Fact:
    """One judged message: what it does, and the span of its first line in the record's text."""

    message: Message
    kind: MessageKind | None
    #: whether it tells what the incident does to those who use the service (``harm_told``)
    impact: bool
    start: int
    end: int
    text: str
    #: the kinds of its sentences, when it has several ("resolved. TODO: alert on restarts" also asks for work)
    said: frozenset[MessageKind] = frozenset()
    #: how many sentences of more than one word it has, as ``cues.read`` judged them (1 for one sentence)
    sentences: int = 1
    #: whether it states that things are back (as a statement, not a question), whole or in a sentence, and
    #: does not explain, report or blame (``_EXPLAINING``)
    back: bool = False
    #: whether the whole message reads most as a report, even if too close to call (``Reading.leans``)
    leans_report: bool = False
    #: whether it opens with a question (its first sentence asks)
    asks: bool = False
    #: how clearly it tells the harm, when it does (``harm_told``)
    harm: float = 0.0

    @property
    def action_item(self) -> bool:
        return self.kind == MessageKind.action_item or MessageKind.action_item in self.said

    @property
    def reports(self) -> bool:
        """Whether it reports a problem. A message of several sentences (a quoted chat joins a speaker's lines
        into one) reports when one of its sentences clearly does: read whole, the lines of an announcement and
        a joke ("deploy time!; for real this time") can blend into a report none of them makes. Read whole, it
        may also lean to what the noticing comes with, a look or a doubt ("not sure the run had the effect;
        ugh, this is not right"), but not to a step, a decision or a recovery."""
        if self.sentences > 1:
            return MessageKind.report in self.said and self.kind in _NOTICING
        return self.kind == MessageKind.report or self.leans_report

    @property
    def fault(self) -> bool:
        """Whether it explains what went wrong: it reads as a cause, and does not open with a question ("can we
        raise the pool? that's what got us out last time" proposes a step)."""
        return self.kind == MessageKind.cause and not self.asks


#: what a message of several sentences, one of them a report, may read as whole and still report
_NOTICING = (MessageKind.report, MessageKind.observation, MessageKind.hypothesis, None)

#: a message that reads as one of these, whole or in a sentence, explains, reports or blames: a sentence of
#: it that reads as things coming back is part of that story ("it was 90ms until 10:14, now it's 20s"; "then
#: they finish and new ones take their place"), not news that the incident is over
_EXPLAINING = frozenset({MessageKind.cause, MessageKind.report, MessageKind.made_worse})


def is_bot(author: str) -> bool:
    """Whether a message's author is a program (from the name the chat gives it)."""
    name = author.strip().lower()
    return name in BOTS or name.endswith((" app", "[bot]", "-bot", " bot"))


def harm_told(texts: list[str]) -> list[float | None]:
    """How clearly each text tells what the incident does to those who use the service (who or what is hurt, how
    much or how long: "19% errors now", "nobody can merge", "540 contacts tonight"): the lead of the "harm" label
    over "other" by the labelled examples of ``kb/retrieval/examples/impact``, or None when it does not. A
    question about the impact does not tell it; the caller drops those."""
    verdicts = classifier("impact").classify(texts) if texts else []
    return [v.margin if v.label == "harm" else None for v in verdicts]


def classify(record: Record) -> list[Fact]:
    """Every message of a chat record with its kind (or None), judged in one batch."""
    said = [judged_text(m) for m in record.messages]
    readings = iter(cues.read([t for t in said if t]))
    harms = iter(harm_told([t for t in said if t]))
    facts = []
    for message, text in zip(record.messages, said, strict=True):
        r = next(readings) if text else None
        harm = next(harms) if text else None
        kind = r.kind if r else None
        if is_bot(message.author) and kind in (MessageKind.hypothesis, MessageKind.decision, MessageKind.cause):
            kind = None  # a program reports and acts; it does not guess or decide
        telling = r is not None and not ({r.kind} | r.sentences) & _EXPLAINING
        start, end, line = first_line_span(record, message)
        asks = r.asks if r else cues.is_question(text)
        impact = harm is not None and not asks and not is_bot(message.author)
        facts.append(Fact(message=message, kind=kind, impact=impact, harm=harm if harm is not None else 0.0,
                          start=start, end=end, text=line,
                          said=r.sentences if r else frozenset(), sentences=max(1, len(r.parts)) if r else 1,
                          back=telling and r is not None and r.states(MessageKind.recovery),
                          leans_report=bool(r and r.leans(MessageKind.report)),
                          asks=asks))
    return facts


def first_signal(facts: list[Fact]) -> Fact | None:
    """The first report or alert, whole or in one of its lines; else the first observation; else the first
    message."""
    return next((f for f in facts if f.reports), None) or next(
        (f for f in facts if f.kind == MessageKind.observation), facts[0] if facts else None
    )


def recovery_statement(facts: list[Fact], first: Fact | None) -> Fact | None:
    """The last statement that things are back after the first signal: the first "looks better" comes while
    the fix is still going out, the last one says it is done."""
    begin = facts.index(first) + 1 if first in facts else 0
    return next((f for f in reversed(facts[begin:]) if f.back), None)


def _after_harm(facts: list[Fact], begin: int, end: int) -> int:
    """Where the fix that worked may start: after the last step said to have made things worse (before
    ``end``), and after the step right after that claim when it is an action: it undoes the harm, and what
    comes back then is what the harm broke, not the incident."""
    worse = [n for n, f in enumerate(facts[:end]) if f.kind == MessageKind.made_worse]
    start = max(begin, max(worse, default=-1) + 1)
    return start + 1 if worse and start < end and facts[start].kind == MessageKind.action else start


def turning_point(facts: list[Fact], first: Fact | None, last: Fact | None) -> Fact | None:
    """The first message after the first signal, and after the last step said to have made things worse and
    its undoing, that states things are coming back (``Fact.back``: "[RESOLVED] ...", "inventory connecting
    again"; not an explanation that mentions it): the fix that worked is the last step before it. None when
    nothing before the recovery statement reads so."""
    begin = facts.index(first) + 1 if first in facts else 0
    end = facts.index(last) + 1 if last in facts else len(facts)
    return next((f for f in facts[_after_harm(facts, begin, end) : end] if f.back), None)


def decided_step(facts: list[Fact]) -> Fact | None:
    """The action that carried out the last decision among ``facts`` (the messages before things came back):
    of the actions after it, the one closest in meaning to the decision and the message before it, which it
    often only agrees to ("it's behind the flag, turning it off skips the call" / "do it"). Other steps taken
    in the meantime (freeing connections while the flag change waits for approval, then stopping that loop)
    are not the fix. None without a decision, or when no action after it is that close (``CARRIES_OUT``)."""
    decided = next((n for n in range(len(facts) - 1, -1, -1) if facts[n].kind == MessageKind.decision), None)
    if decided is None:
        return None
    acts = [f for f in facts[decided + 1 :] if f.kind == MessageKind.action]
    if not acts:
        return None
    proposal = " ".join(f.text for f in facts[max(0, decided - 1) : decided + 1])
    close = similarity([proposal], [f.text for f in acts])[0]
    best = max(range(len(acts)), key=lambda k: close[k])
    return acts[best] if close[best] >= CARRIES_OUT else None


def _when(message: Message) -> str:
    return message.ts.strftime("%Y-%m-%d %H:%M") if message.ts else ""


def _cite(record: Record, fact: Fact) -> Citation:
    return Citation(doc_id=record.id, section=SectionName.chat, start=fact.start, end=fact.end,
                    quote=record.text[fact.start : fact.end][:240])


def _duration(minutes: float) -> str:
    hours, mins = divmod(round(minutes), 60)
    return f"{hours}h {mins:02d}m" if hours else f"{mins}m"


def _extractive_prose(record: Record, facts: list[Fact]) -> list[DraftItem]:
    items: list[DraftItem] = []

    def add(section: str, chosen: list[Fact], limit: int = 4) -> None:
        for fact in chosen[:limit]:
            items.append(DraftItem(section=section, text=fact.text, citations=[_cite(record, fact)]))

    detections = [f for f in facts if f.kind == MessageKind.report]
    first = first_signal(facts)
    last = recovery_statement(facts, first)
    if first is not None:
        parts = [f"First signal {_when(first.message)} ({first.message.author})"]
        cites = [_cite(record, first)]
        if last is not None:
            parts.append(f"recovered {_when(last.message)} ({last.message.author})")
            cites.append(_cite(record, last))
            if first.message.ts and last.message.ts and last.message.ts > first.message.ts:
                span = (last.message.ts - first.message.ts).total_seconds() / 60
                parts.append(f"{_duration(span)} apart")
        items.append(DraftItem(section="summary", text="; ".join(parts) + ".", citations=cites))
    first_alert = facts.index(first) if first is not None else len(facts)
    # what led up to it: changes made before the first signal, and ones told during the response that
    # name a time before it ("I merged #3187 at 16:02")
    changes = (MessageKind.action, MessageKind.decision)
    leadup = [f for n, f in enumerate(facts) if f.kind in changes and f is not first
              and (n < first_alert or _names_earlier_time(f, first))]
    add("leadup", leadup, 3)
    add("fault", [f for f in facts if f.fault], 3)
    # the lines that tell the harm most clearly, in the order they were said
    told = sorted((f for f in facts if f.impact), key=lambda f: -f.harm)[:IMPACT_LINES]
    add("impact", [f for f in facts if f in told], IMPACT_LINES)
    add("detection", detections, 3)
    end = facts.index(last) if last is not None else len(facts)
    during = [f for f in facts[first_alert:end] if f.kind in RESPONSE]
    turn = turning_point(facts, first, last)
    # the fix is taken after the harm and its undoing, as the turning point is
    settled = _after_harm(facts, first_alert, facts.index(turn) if turn is not None else end)
    before_turn = facts[settled : facts.index(turn)] if turn is not None else facts[settled:end]
    # the step that carried out the last decision; else the last step taken (a question takes none)
    fix = decided_step(before_turn) or next(
        (f for f in reversed(before_turn) if f.kind == MessageKind.action and not f.asks), None)
    changes_first = [f for f in during if f.kind != MessageKind.hypothesis] or during
    add("response", changes_first[:9] + ([fix] if fix is not None and fix not in changes_first[:9] else []), 10)
    back = [f for f in facts[end:] if f.back]  # things back, not a later review that mentions the recovery
    add("recovery", ([fix] if fix is not None else []) + back, 4)
    return items


def _timeline(record: Record, facts: list[Fact]) -> list[DraftItem]:
    return [
        DraftItem(
            section="timeline",
            text=fact.text,
            citations=[_cite(record, fact)],
            time=_when(fact.message),
            who=fact.message.author,
            kind=fact.kind,
        )
        for fact in sorted((f for f in facts if f.kind is not None), key=_clock_order)
    ]


def _clock_order(fact: Fact) -> str:
    """Timeline order: by the message's time (a thread reply read later sorts where it was said)."""
    return _when(fact.message)


def _names_earlier_time(fact: Fact, first: Fact | None) -> bool:
    """Whether a message's own line names a clock time before the first signal (same day assumed)."""
    if first is None or first.message.ts is None:
        return False
    start = first.message.ts.hour * 60 + first.message.ts.minute
    said = fact.text  # the message's own line, not pasted logs with their timestamps
    return any(int(h) * 60 + int(m) < start for h, m in CLOCK.findall(said))


def _action_items(record: Record, facts: list[Fact]) -> list[DraftItem]:
    """Messages that ask for work after the incident, said by people."""
    chosen = [f for f in facts if f.action_item and not is_bot(f.message.author)]
    return [
        DraftItem(section="action items", text=f.text, citations=[_cite(record, f)], who=f.message.author)
        for f in chosen
    ]


def chat_evidence(record: Record, facts: list[Fact]) -> Evidence:
    """Every message as a passage (its first line), so any message span can be cited."""
    return Evidence(
        Passage(
            id=f"M{n}",
            doc_id=record.id,
            title=record.title,
            kind=record.kind,
            section=SectionName.chat,
            start=f.message.start,
            end=f.message.end,
            text=record.text[f.message.start : f.message.end],
            date=f.message.ts.date() if f.message.ts else None,
        )
        for n, f in enumerate(facts, start=1)
    )


def summarize(
    record: Record, llm: ChatModel | None = None, on_text: Callable[[str], None] | None = None
) -> Draft:
    """A cited postmortem draft of a chat log."""
    if record.kind != Kind.chat or not record.messages:
        raise KBError(f"'{record.id}' is not a chat log ({record.kind.value}); summarize takes a chat log")
    facts = classify(record)
    evidence = chat_evidence(record, facts)
    timeline = _timeline(record, facts)
    actions = _action_items(record, facts)
    dropped: list[DroppedItem] = []
    generator, model, note = Generator.extractive, None, None
    if llm is not None:
        chosen = [f for f in facts if f.kind or f.impact]
        facts_evidence = Evidence.numbered(
            [p for p, f in zip(evidence.passages.values(), facts, strict=True) if f in chosen]
        )
        prose, dropped, note = grounded_lines(llm, "summary", facts_evidence, PROSE_SECTIONS, "incident summary",
                                              on_text=on_text, title=record.title)
        if note is None:
            generator, model = Generator.llm, llm.model
    if generator == Generator.extractive:
        prose = _extractive_prose(record, facts)
    items, bad = evidence.check_items([*prose, *timeline, *actions])  # every citation resolves
    dropped += bad
    require_grounded(items, dropped, "incident summary")
    title = f"Incident summary: {record.title}"
    return Draft(title=title, markdown=render(title, record, items, dropped, generator, model, note),
                 generator=generator, model=model, note=note, items=items, dropped=dropped, sources=[record.id])


def render(title: str, record: Record, items: list[DraftItem], dropped: list[DroppedItem], generator: Generator,
           model: str | None, note: str | None = None) -> str:
    refs = References()
    lines = [f"# {title}", ""] + ([f"> {note}", ""] if note else [])
    if generator == Generator.extractive:
        lines += [
            "> Drafted without an LLM: every line is quoted from the chat log and cites the message it comes",
            "> from. Review and rewrite before publishing.",
            "",
        ]
    else:
        lines += [f"> Drafted by {model} from the chat log; every line cites the messages it rests on.", ""]
    for section in TEMPLATE:
        lines.append(f"## {section.capitalize()}")
        lines.append("")
        chosen = [i for i in items if i.section == section]
        if not chosen:
            lines += ["_Nothing in the log about this._", ""]
            continue
        for item in chosen:
            marks = " ".join(x for x in (refs.marks(item.citations), caution_note(item.cautions)) if x)
            text = item.text.replace("\n", " ")
            if section == "timeline":
                kind = f" ({item.kind})" if item.kind else ""
                lines.append(f"- {item.time} **{item.who}**{kind}: {text} {marks}")
            elif section == "action items":
                lines.append(f"- [ ] {text} ({item.who}) {marks}")
            else:
                lines.append(f"- {text} {marks}")
        lines.append("")
    if dropped:
        lines += ["## Dropped as ungrounded", ""]
        lines += [f"- {d.text[:160]} ({d.reason})" for d in dropped]
        lines.append("")
    lines += ["## References", ""]
    lines += [f"- {line}" for line in refs.lines({record.id: record.title})]
    return "\n".join(lines).rstrip() + "\n"
