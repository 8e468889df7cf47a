"""Incident summaries and postmortem drafts from a chat log, every line citing its messages.

The offline path reads the messages in order and classifies each by cues (alerts and pages are
detection, "I'm IC" / "paging" is escalation, "maybe" / "suspect" a hypothesis, commands and "rolled
back" actions, "recovering" mitigation, "resolved" resolution, "TODO" / "follow-up" action items) and
builds the timeline and a postmortem template from the messages themselves. With an LLM, the model
writes the prose sections on top of the same cited messages; the timeline and action items stay
extractive. Either way every line cites message spans checked by ``kb.generation.grounding``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from kb.clients.openai_client import ChatModel
from kb.core.bounded import Cue, linear
from kb.core.drafts import Draft
from kb.core.enums import Generator, Phase, SectionName
from kb.core.errors import KBError
from kb.core.models import Citation, DraftItem, DroppedItem, Kind, Message, Passage, Record
from kb.generation.grounding import Evidence, References, require_grounded
from kb.generation.guard import caution_note
from kb.generation.prompting import ask_for_lines

#: message kind -> cue; the first that matches wins, so order matters.
CUES: tuple[tuple[Phase, Cue], ...] = (
    (
        Phase.resolution,
        linear(r"\b(resolved|all clear|closing (?:the )?(?:incident|channel)|incident (?:is )?over|"
                   r"standing down|stand down|marking (?:it )?resolved|\[RESOLVED\])"),
    ),
    (
        Phase.mitigation,
        linear(r"\b(mitigated|recover(?:ing|ed)|back to normal|error rate (?:is )?(?:down|dropping|back)|"
                   r"errors? (?:are )?(?:dropping|going down|gone)|looks (?:better|healthy|good now)|"
                   r"draining|catching up|is stable|green again)\b"),
    ),
    (
        Phase.detection,
        linear(r"(\[FIRING|\bTriggered\b|\bpaged\b|\bnoticed\b|\bseeing (?:errors|5xx|timeouts)|"
                   r"\balert(?:ing)? (?:fired|firing)\b|\bcustomers? (?:report|say|are reporting))"),
    ),
    (
        Phase.escalation,
        linear(r"\b(I'?m IC|incident commander|declar(?:e|ing) (?:a )?SEV|paging|escalat\w*|pull(?:ing)? in|"
                   r"looping in|page (?:the )?\w+|bringing in|@here|@channel)\b"),
    ),
    (
        Phase.action,
        # a shell prompt ("$ ") or a database prompt ("orders=# SELECT ...") is something run
        linear(r"(^\$ |\n[^\S\n]*\$ |^\w+=[#>] |\n[^\S\n]*\w+=[#>] |"
                   r"\b(roll(?:ing|ed)? ?back|reverted|revert(?:ing)?|restart(?:ing|ed)?|"
                   r"scal(?:ing|ed) (?:up|down|to)|terminat(?:e|ing|ed)|kill(?:ing|ed)|failover|failing over|"
                   r"promot(?:e|ing|ed)|disabl(?:e|ing|ed)|turn(?:ing|ed) off|flipp(?:ing|ed)|cordon(?:ing|ed)?|"
                   r"drain(?:ed)?|raising|raised|bump(?:ing|ed)?|deploy(?:ing|ed)? (?:the )?fix|hotfix|"
                   r"cancel(?:ling|led)?)\b)"),
    ),
    (
        Phase.hypothesis,
        linear(r"\b(maybe|might be|could be|i think|suspect|looks like|my guess|hypothesis|"
                   r"probably|is it (?:the|a)|theory|seems like)\b"),
    ),
)
ACTION_ITEM = re.compile(
    r"\b(TODO|action item|AI:|follow[- ]?up|we should|we need to|need a ticket|ticket for|let'?s make sure|"
    r"postmortem item|for the postmortem)\b",
    re.I,
)
IMPACT = re.compile(
    r"(\b\d+(?:\.\d+)?\s?% (?:errors|error rate|of requests|5xx)|\bcustomers?\b|\bcontacts\b|\bstatus page\b|"
    r"\bfailed (?:orders|payments|checkouts)\b|\bimpact\b|\berrors? \d+%|\b\d+% (?:now|errors))",
    re.I,
)
FAULT = re.compile(
    r"\b(root cause|caused by|because|turns out|turned out|the culprit|that's why|story as far as|"
    r"the problem is|is the problem|what happened:|the cause (?:is|was)|silently)\b",
    re.I,
)
LEADUP = re.compile(r"\b(deploy(?:ed|ing)?|sync(?:ed|ing)|release[ds]?|rolled out|config push|migration|"
                    r"changed|merged|flag (?:on|enabled|at \d+%))\b", re.I)
#: after recovery, people promising follow-up work ("I'll add synthetic checks", "marcus owns that")
FOLLOW_UP = re.compile(r"\b(I'?ll (?:add|take|write|file|open|fix|own|do|look|change|make|raise)|"
                       r"I will|we'?ll (?:add|need|fix|change)|fix for (?:tomorrow|later|next week)|"
                       r"owns? (?:that|this|it)|until the fix)\b", re.I)
CLOCK = re.compile(r"\b([01]?\d|2[0-3]):([0-5]\d)\b")
BOTS = {"alertmanager", "pagerduty", "argocd", "opsgenie", "grafana", "prometheus", "statuspage", "slackbot"}

PROSE_SECTIONS = ("summary", "leadup", "fault", "impact", "detection", "response", "recovery")
TEMPLATE = ("summary", "leadup", "fault", "impact", "detection", "response", "recovery", "timeline", "action items")
MAX_LINE = 220


@dataclass
class Fact:
    """One classified message: what it is, and the span of its first line in the record's text."""

    message: Message
    kind: Phase | None
    action_item: bool
    impact: bool
    fault: bool
    leadup: bool
    start: int
    end: int
    text: str


def _first_line_span(record: Record, message: Message) -> tuple[int, int, str]:
    """The message's first line (shortened to a sentence when long) as an exact span of the record."""
    first = message.text.split("\n", 1)[0].strip()
    window = record.text[message.start : message.end]
    at = window.find(first) if first else -1
    if at < 0:
        return message.start, message.end, window
    start = message.start + at
    text = first
    if len(first) < 25 and "\n" in message.text:  # "pools:" - the line that follows says what
        second_end = record.text.find("\n", start + len(first) + 1)
        end = min(message.end, second_end if second_end > 0 else message.end)
        return start, end, " ".join(record.text[start:end].split())
    if len(text) > MAX_LINE:
        # end at a sentence or clause, else after a whole word: never mid-word
        cut = max(text.rfind(". ", 0, MAX_LINE), text.rfind("; ", 0, MAX_LINE))
        if cut <= MAX_LINE // 3:
            cut = max(text.rfind(", ", 0, MAX_LINE), text.rfind(" ", 0, MAX_LINE) - 1)
        text = text[: cut + 1].rstrip(" ,;:") if cut > 20 else text[:MAX_LINE]
    return start, start + len(text), text


def classify(record: Record) -> list[Fact]:
    """Every message of a chat record with its kind (or None) and its cues."""
    facts = []
    for message in record.messages:
        body = message.text
        first_line = body.split("\n", 1)[0]
        # pasted output and quoted text (continuation lines) do not decide the kind, commands do
        kind = next((name for name, cue in CUES if cue.search(body if name == Phase.action else first_line)), None)
        if kind == Phase.hypothesis and message.author.lower() in BOTS:
            kind = None
        start, end, text = _first_line_span(record, message)
        facts.append(
            Fact(
                message=message,
                kind=kind,
                action_item=bool(ACTION_ITEM.search(body)),
                impact=bool(IMPACT.search(body)) and message.author.lower() not in BOTS,
                fault=bool(FAULT.search(body)),
                leadup=bool(LEADUP.search(body)),
                start=start,
                end=end,
                text=text,
            )
        )
    return facts


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

    detections = [f for f in facts if f.kind == Phase.detection]
    recovered = [f for f in facts if f.kind in (Phase.mitigation, Phase.resolution)]
    resolved = [f for f in facts if f.kind == Phase.resolution]
    first = detections[0] if detections else (facts[0] if facts else None)
    last = resolved[0] if resolved else (recovered[-1] if recovered else None)
    if first is not None:
        parts = [f"First signal {_when(first.message)} ({first.message.author})"]
        cites = [_cite(record, first)]
        if last is not None:
            what = "first resolution message" if resolved else "last recovery message"
            parts.append(f"{what} {_when(last.message)} ({last.message.author})")
            cites.append(_cite(record, last))
            if first.message.ts and last.message.ts and last.message.ts > first.message.ts:
                span = (last.message.ts - first.message.ts).total_seconds() / 60
                parts.append(f"{_duration(span)} apart")
        items.append(DraftItem(section="summary", text="; ".join(parts) + ".", citations=cites))
    first_alert = facts.index(first) if first is not None else len(facts)
    first_fix = next((n for n, f in enumerate(facts) if f.kind in (Phase.mitigation, Phase.resolution)), len(facts))
    # what led up to it: change messages before the first signal, and ones during the response that
    # name a time before it ("I merged #3187 at 16:02")
    leadup = [f for n, f in enumerate(facts[:first_fix]) if f.leadup and f is not first
              and (n <= first_alert or _names_earlier_time(f, first))]
    add("leadup", leadup, 3)
    add("fault", [f for f in facts if f.fault and f.kind != Phase.detection], 3)
    add("impact", [f for f in facts if f.impact], 4)
    add("detection", detections, 3)
    add("response", [f for f in facts if f.kind in (Phase.escalation, Phase.hypothesis, Phase.action)], 6)
    add("recovery", recovered, 4)
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
        for fact in facts
        if fact.kind is not None
    ]


def _names_earlier_time(fact: Fact, first: Fact | None) -> bool:
    """Whether a message's own line tells of a change at a clock time before the first signal (same day
    assumed)."""
    if first is None or first.message.ts is None:
        return False
    start = first.message.ts.hour * 60 + first.message.ts.minute
    said = fact.text  # the message's own line, not pasted logs with their timestamps
    return bool(LEADUP.search(said)) and any(int(h) * 60 + int(m) < start for h, m in CLOCK.findall(said))


def _action_items(record: Record, facts: list[Fact]) -> list[DraftItem]:
    """Messages that say what to do later: explicit cues anywhere, promises ("I'll add ...") once the
    incident is mitigated."""
    fixed = next((n for n, f in enumerate(facts) if f.kind in (Phase.mitigation, Phase.resolution)), len(facts))
    chosen = [f for n, f in enumerate(facts) if f.action_item or (
        n > fixed and f.message.author.lower() not in BOTS and FOLLOW_UP.search(f.message.text))]
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
    generator, model = Generator.extractive, None
    if llm is None:
        prose = _extractive_prose(record, facts)
    else:
        chosen = [f for f in facts if f.kind or f.action_item or f.impact or f.fault]
        facts_evidence = Evidence.numbered(
            [p for p, f in zip(evidence.passages.values(), facts, strict=True) if f in chosen]
        )
        reply = ask_for_lines(llm, "summary", facts_evidence, PROSE_SECTIONS, on_text=on_text, title=record.title)
        prose, dropped = facts_evidence.check_generated(reply.lines, PROSE_SECTIONS)
        require_grounded(prose, dropped, "incident summary")
        generator, model = Generator.llm, llm.model
    items, bad = evidence.check_items([*prose, *timeline, *actions])  # every citation resolves
    dropped += bad
    require_grounded(items, dropped, "incident summary")
    title = f"Incident summary: {record.title}"
    return Draft(
        title=title,
        markdown=render(title, record, items, dropped, generator, model),
        generator=generator,
        model=model,
        items=items,
        dropped=dropped,
        sources=[record.id],
    )


def render(
    title: str,
    record: Record,
    items: list[DraftItem],
    dropped: list[DroppedItem],
    generator: Generator,
    model: str | None,
) -> str:
    refs = References()
    lines = [f"# {title}", ""]
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
