"""Game-day scenarios built from real past incidents, and where they are kept.

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
text, or several of the words only the cause sections use, is left out (``leaks``).

Difficulty: easy shows two clues up front and reveals the rest sooner; hard shows none, reveals later and
keeps two red herrings, real observations from other incidents of the same services.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from kb.core.errors import KBError, NotFound
from kb.core.models import Citation, Clue, DraftItem, DroppedItem, Kind, Record, RubricItem, Scenario, Trigger, Truth
from kb.core.settings import Settings
from kb.generation.guard import refusal
from kb.retrieval.search import Query, Searcher
from kb.retrieval.similar import same_incident
from kb.text.steps import (
    NEGATIVE_OUTCOME,
    Span,
    clean_step,
    is_change,
    sentences,
    shorten,
    split_steps,
    terms_of,
)

T = TypeVar("T")
DIFFICULTIES = ("easy", "medium", "hard")
LEVELS = {"easy": (2, 3, 0), "medium": (1, 4, 1), "hard": (0, 6, 2)}  # up front, reveal every N turns, herrings
_TIME = re.compile(
    r"^\s*(?:[-*]\s*)?(?:\*\*)?(?:(\d{4}-\d{2}-\d{2})\s+)?(\d{1,2}:\d{2})(?::\d{2})?(?:\*\*)?\s*(?:UTC)?(?:\s*[-–—:]\s*|\s+)"
)
CAUSE_SECTIONS = ("root_cause", "contributing_factors")
RECOVERY = re.compile(
    r"\b(recover(?:s|ed|ing)?|resolve[sd]?|back to normal|drains?|flow again|mitigated|errors? (?:drop|fall)|"
    r"back under|returns? to|stabili[sz]e|\bstable\b|down to \d|drops? to \d|impact ends|impact ended|healthy again)",
    re.I,
)
ACTION_VERBS = re.compile(
    r"(?<![\w.-])(roll\w* back|rollback|revert\w*|restart\w*|scal(?:es|ed|ing) |terminat\w*|kill\w*|cancel\w*|"
    r"runs? `|ran `|fail\w* over|promot\w*|disabl\w*|turn\w* off|rais\w*|increas\w*|delet\w*|drop(?:s|ped)|"
    r"flush\w*|paus\w*|suspend\w*|switch\w*|cordon\w*|drain\w* the node|edit\w*|sets? `|lower\w*|"
    r"re-?driv\w*|apply|applie[sd]|config(?:uration)? change|reconfigur\w*)",
    re.I,
)
WORSE = re.compile(r"\b(made (?:it|things) worse|did(?:n't| not) help|no effect|did(?:n't| not) work)\b", re.I)
FINDING = re.compile(r"(?<![\w.-])(finds?|found|identif\w+|spots?|notices?|confirms?|traces?|links? it)(?![\w-])", re.I)
ESCALATION = re.compile(r"\b(pages?|paged|declares?|incident commander|opens? #|status page|escalat\w+)\b", re.I)
CATEGORIES: tuple[tuple[str, re.Pattern[str], tuple[str, ...]], ...] = (
    ("deploy", re.compile(r"\b(deploy|sync|release|v\d+\.\d+|rollout|config push|migration|merged)", re.I),
     ("deploy", "chang", "releas", "rollout", "sync", "version")),
    ("alert", re.compile(r"\b(fires?|fired|FIRING|pages?|paged|alert)", re.I), ("alert", "page", "fire")),
    ("customer", re.compile(r"\b(customers?|support|contacts|users? (?:report|say))", re.I),
     ("custom", "support", "user", "report", "ticket")),
    ("logs", re.compile(r"((?-i:\bERROR\b|\bFATAL\b)|\berror:|\blogs?\b|\bexception|\{\"level\")", re.I),
     ("log", "error", "except", "messag")),
    ("dashboard", re.compile(r"(\bp\d\d\b|latency|error rate|(?<!\d)\d+%|cl_waiting|cpu|memory|lag|queue|rps)", re.I),
     ("dashboard", "metric", "graph", "latenc", "rate", "grafana", "cpu", "memori")),
)


def _body(text: str) -> str:
    """Section text without its heading line."""
    return re.sub(r"^\s*#{1,6} [^\n]*\n", "", text).strip()


def _when(text: str) -> str | None:
    match = _TIME.match(text)
    return (f"{match.group(1)} {match.group(2)}" if match.group(1) else match.group(2)) if match else None


def _cite(record: Record, span: Span, section: str) -> Citation:
    return Citation(doc_id=record.id, section=section, start=span.start, end=span.end, quote=span.text[:240])


def _section_text(record: Record, *names: str) -> str:
    return "\n".join(record.text[s.start : s.end] for s in record.sections if s.name in names)


def _spans(record: Record, name: str) -> list[tuple[Span, str]]:
    out = []
    for section in record.sections:
        if section.name == name:
            out += [(s, section.name) for s in split_steps(record.text[section.start : section.end], section.start)]
    return out


#: A word is specific to the cause when at most this share of all passages use it ("exclusive", "ndots").
RARE = 0.03
#: A text sharing this many cause-specific words with the root-cause sections gives the cause away.
LEAK_TERMS = 3


class LeakGuard:
    """Decides whether a text gives away the root cause: it repeats eight words in a row of the cause
    sections, or uses several words that only the cause sections (and few other passages) use."""

    def __init__(self, cause_text: str, cause_terms: set[str]) -> None:
        self.cause_words = re.findall(r"\w+", cause_text.lower())
        self.shingles = {tuple(self.cause_words[i : i + 8]) for i in range(max(0, len(self.cause_words) - 7))}
        self.cause_only = cause_terms

    @classmethod
    def for_record(cls, record: Record, share: Callable[[str], float] | None = None) -> LeakGuard:
        cause = _section_text(record, *CAUSE_SECTIONS)
        visible = _section_text(record, "detection", "impact") + " " + " ".join(record.alerts + record.services)
        specific = terms_of(cause + " " + record.title) - terms_of(visible)
        return cls(cause, {t for t in specific if share is None or share(t) <= RARE})

    def repeats(self, text: str) -> bool:
        """Does the text repeat the cause sections word for word (eight words or more)?"""
        words = re.findall(r"\w+", text.lower())
        return any(tuple(words[i : i + 8]) in self.shingles for i in range(max(0, len(words) - 7)))

    def leaks(self, text: str) -> bool:
        return self.repeats(text) or len(terms_of(text) & self.cause_only) >= LEAK_TERMS


def _category(text: str) -> tuple[str, set[str]]:
    for name, pattern, words in CATEGORIES:
        if pattern.search(text):
            return name, set(words)
    return "symptom", set()


def _clue_key(citation: Citation) -> str:
    return hashlib.sha256(f"{citation.doc_id}|{citation.quote}".encode()).hexdigest()[:12]


def _keywords(text: str, extra: set[str]) -> list[str]:
    words = {t for t in terms_of(text) if not t.isdigit() and len(t) > 2}
    return sorted(words | extra)


# -- actions -------------------------------------------------------------------------------------

ACTIONS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("rollback", re.compile(r"\b(roll(?:ing|s|ed)? ?back|rollback|revert|undo (?:the )?(?:deploy|release|change)|"
                            r"downgrade|go back to the previous|previous version)", re.I)),
    ("terminate", re.compile(r"\b(terminat\w*|kill\w*|cancel\w*|abort\w*|pg_cancel_backend|pg_terminate_backend|"
                             r"stop (?:the )?(?:query|index|build|migration|session))", re.I)),
    ("raise_limit", re.compile(r"\b(rais\w*|increas\w*|bump\w*|grow\w*|doubl\w*|more)\b.*(?:\b|_)(pool|limit|size|"
                               r"connections|max_connections|quota|memory|heap|timeout)", re.I)),
    # a setting changed to fix it ("config change deployed: max.poll.records=50", "raise max.poll.interval.ms")
    ("reconfigure", re.compile(r"\b(config(?:uration)? change|reconfigur\w*|tun(?:e|ed|es|ing)\b|"
                               r"(?:rais|increas|lower|reduc|decreas)\w* (?:the )?`?\w+\.[\w.]+)", re.I)),
    ("restart", re.compile(r"\b(restart\w*|bounce|recycle|reboot\w*|rollout restart|delete (?:the )?pods?)", re.I)),
    ("scale", re.compile(r"\b(scal\w+ (?:up|out|to|`?[\w.-]+`? (?:from|to) \d)|"
                         r"add (?:more )?(?:replicas|pods|nodes|capacity)|more (?:replicas|pods|workers))", re.I)),
    ("failover", re.compile(r"\b(fail ?over|switch (?:over )?to|promot\w+|move traffic|force[- ]open|"
                            r"secondary provider|backup provider)", re.I)),
    ("disable", re.compile(r"\b(disabl\w*|turn(?:s|ing|ed)? off|switch(?:es|ing|ed)? off|kill switch|flag off|"
                           r"flip (?:the )?flag)", re.I)),
    ("pause", re.compile(r"\b(pause|suspend|stop (?:the )?(?:job|cron\w*|consumer|sync))", re.I)),
    ("flush", re.compile(r"\b(flush|purge|evict|clear (?:the )?cache)", re.I)),
    ("delete", re.compile(r"\b(delet\w*|remov\w*|drop(?:ping|ped)?)\b", re.I)),
    ("page", re.compile(r"\b(page|paging|escalat\w*|pull in|loop in|bring in|call (?:the )?\w+)", re.I)),
    ("declare", re.compile(r"\b(declar\w*|open (?:an )?incident|incident channel|sev ?\d|i'?m ic|"
                           r"incident commander)", re.I)),
    ("communicate", re.compile(r"\b(status ?page|tell support|notify|update (?:the )?(?:customers|support|"
                               r"stakeholders))", re.I)),
)


def action_class(text: str) -> str | None:
    """The kind of action a sentence describes (first match wins, most specific first)."""
    for name, pattern in ACTIONS:
        if pattern.search(text):
            return name
    return None


# -- building ------------------------------------------------------------------------------------


def _timeline(record: Record) -> list[tuple[Span, str | None]]:
    return [(span, _when(span.text)) for span, _ in _spans(record, "timeline")]


NOTICED = re.compile(r"\b(notice[sd]?|sees?|saw|spots?|spotted|reports?|reported|detect(?:s|ed)?|"
                     r"complain\w*|opens? #inc|posts? in)\b", re.I)


def _first_page_index(timeline: list[tuple[Span, str | None]], day: dt.date | None = None) -> int:
    """The timeline entry where responders learned of the incident: the first alert or page, else the first
    time someone noticed or reported it, else the first entry of the incident's own day."""
    for pattern in (re.compile(r"\b(fires?|fired|pages?|paged|alert)\b", re.I), NOTICED):
        for n, (span, _time) in enumerate(timeline):
            if pattern.search(span.text) and not _before(_time, day):
                return n
    return next((n for n, (_span, when) in enumerate(timeline) if not _before(when, day)), 0)


def _before(when: str | None, day: dt.date | None) -> bool:
    """Whether a timeline time ("2023-12-18 16:30" or "16:30") is dated before the incident's day."""
    if not when or day is None or " " not in when:
        return False
    try:
        return dt.date.fromisoformat(when.split()[0]) < day
    except ValueError:
        return False


def _recovery_index(timeline: list[tuple[Span, str | None]], start: int) -> int:
    for n in range(start, len(timeline)):
        if RECOVERY.search(timeline[n][0].text) and not re.search(r"\bunchanged\b|\bnot\b", timeline[n][0].text):
            return n
    return len(timeline)


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


def find_chat(searcher: Searcher, record: Record) -> str | None:
    """The chat log of the same incident: same day, sharing a service."""
    chats = [rid for rid in same_incident(searcher, record) if searcher.keyword.record_meta[rid].get("kind") == "chat"]
    return chats[0] if chats else None


def _chat_clues(chat: Record, guard: LeakGuard, until: dt.datetime | None) -> list[Clue]:
    """Output responders pasted into the chat before the incident was mitigated (logs, query results)."""
    clues = []
    for message in chat.messages:
        if until and message.ts and message.ts >= until:
            break
        body = chat.text[message.start : message.end]
        if "\n" not in body or message.author.lower() in ("alertmanager", "pagerduty"):
            continue
        if guard.leaks(body) or NEGATIVE_OUTCOME.search(body) or is_change(body.split("\n", 1)[0]) or action_class(
            body.split("\n", 1)[0]
        ) in (
            "rollback", "terminate", "restart", "failover", "disable", "raise_limit",
        ):
            continue
        span = Span(message.start, message.end, body)
        category, extra = _category(body)
        citation = _cite(chat, span, "chat")
        clues.append(
            Clue(
                key=_clue_key(citation),
                text=clean_step(body)[:1200],
                category=category,
                trigger=Trigger(keywords=_keywords(_asked_with(body), extra)),
                citations=[citation],
            )
        )
    return clues[:6]


PROMPT_LINE = re.compile(r"^\s*(?:\$ |\w+=[#>] |>\s|(?:SELECT|SHOW|EXPLAIN|kubectl|psql|redis-cli|curl)\b)", re.I)


def _asked_with(body: str) -> str:
    """What a pasted message was about: its first line and the commands or queries it shows being run
    (so "what does pg_stat_activity show?" finds the pasted query result), not the output rows."""
    first, *rest = body.split("\n")
    return " ".join([first, *(line for line in rest if PROMPT_LINE.match(line))])


def _outcomes(record: Record, timeline: list[tuple[Span, str | None]], first: int, recovery: int) -> list[Clue]:
    """What happened when responders acted before the fix: a run of entries about one kind of action
    (asked for, done, finished) and the observation after it."""
    clues = []
    n = first
    while n < recovery - 1:
        span, _ = timeline[n]
        # what was done is said first ("Scaling X from 12 to 18 tried; ... Reverted 11:58" is a scale-out)
        lead = re.split(r"[;.](?:\s|$)", span.text, maxsplit=1)[0]
        kind = (action_class(lead) or action_class(span.text)) if ACTION_VERBS.search(span.text) else None
        if kind in (None, "page", "declare", "communicate"):
            n += 1
            continue
        last = n
        while last + 1 < recovery - 1 and action_class(timeline[last + 1][0].text) == kind:
            last += 1
        after = last + 1
        following = timeline[after][0].text if after < len(timeline) else ""
        acted = ACTION_VERBS.search(following) or ESCALATION.search(following) or FINDING.search(following)
        if following and not acted:
            last = after
        end = timeline[last][0].end
        joined = Span(span.start, end, record.text[span.start : end])
        citation = _cite(record, joined, "timeline")
        clues.append(
            Clue(
                key=_clue_key(citation),
                text=" ".join(clean_step(joined.text).split()),
                category="outcome",
                trigger=Trigger(on_action=kind, keywords=_keywords(span.text, set())),
                citations=[citation],
            )
        )
        n = last + 1
    return clues


def _rubric(record: Record, chat: Record | None, timeline: list[tuple[Span, str | None]], first: int,
            recovery: int) -> list[RubricItem]:
    items: list[RubricItem] = []
    findings = [n for n in range(first, recovery) if FINDING.search(timeline[n][0].text)]
    # the mitigation that worked: the actions between the last finding and recovery, with that finding
    for n in range(max(first, min(findings[-1] + 1 if findings else recovery, recovery - 3)), recovery):
        span, _ = timeline[n]
        kind = action_class(span.text)
        if kind in (None, "page", "declare", "communicate") or not ACTION_VERBS.search(span.text):
            continue
        context = timeline[n - 1][0].text if n > 0 else ""
        items.append(
            RubricItem(
                id=f"mitigation-{len(items) + 1}",
                kind="mitigation",
                text=" ".join(clean_step(span.text).split()),
                action=kind,
                terms=sorted(terms_of(span.text + " " + context) - terms_of("runs run select the a")),
                points=40,
                citations=[_cite(record, span, "timeline")],
            )
        )
    # diagnosis: the finding that preceded the fix
    for n in range(first, recovery):
        span, _ = timeline[n]
        if FINDING.search(span.text):
            items.append(
                RubricItem(
                    id=f"diagnosis-{n}",
                    kind="diagnosis",
                    text=" ".join(clean_step(span.text).split()),
                    terms=sorted(terms_of(span.text)),
                    points=20,
                    citations=[_cite(record, span, "timeline")],
                )
            )
    # communication: declaring, paging the owners, telling support / customers
    for n in range(first, len(timeline)):
        span, _ = timeline[n]
        kind = action_class(span.text)
        if kind in ("page", "declare", "communicate") and ESCALATION.search(span.text):
            items.append(
                RubricItem(
                    id=f"communication-{kind}-{n}",
                    kind="communication",
                    text=" ".join(clean_step(span.text).split()),
                    action=kind,
                    points=10,
                    citations=[_cite(record, span, "timeline")],
                )
            )
    # what hurt: the change a chat message says made it worse (the nearest change before that message, and
    # the kind of action the responders discussed just before it)
    if chat is not None:
        done: set[int] = set()
        for n, message in enumerate(chat.messages):
            if not WORSE.search(message.text.split("\n", 1)[0]):
                continue
            window = [b for b in range(n - 1, max(-1, n - 7), -1) if b not in done]
            changed = next((b for b in window if is_change(chat.messages[b].text) or action_class(
                chat.messages[b].text.split("\n", 1)[0]) not in (None, "page", "declare", "communicate")), None)
            if changed is None:
                continue
            kinds = [action_class(chat.messages[b].text.split("\n", 1)[0]) for b in window if b <= changed]
            kind = next((k for k in kinds if k not in (None, "page", "declare", "communicate")), None)
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
                    kind="harmful",
                    text=shorten(proposed, 200) + " -> " + " ".join(message.text.split("\n", 1)[0].split()),
                    action=kind,
                    terms=sorted(terms_of(said)),
                    points=-20,
                    citations=[_cite(chat, span, "chat")],
                )
            )
    return items


def build_scenario(
    searcher: Searcher,
    source_id: str,
    difficulty: str = "medium",
    scenario_id: str | None = None,
    rng: random.Random | None = None,
    now: dt.datetime | None = None,
) -> Scenario:
    """A scenario from a stored postmortem."""
    if difficulty not in DIFFICULTIES:
        raise KBError(f"difficulty must be one of {', '.join(DIFFICULTIES)}, not '{difficulty}'")
    store = searcher.store
    record = store.get_record(source_id)
    if record.kind != Kind.postmortem:
        postmortems = [rid for rid in same_incident(searcher, record)
                       if searcher.keyword.record_meta[rid].get("kind") == Kind.postmortem.value]
        hint = f" (the postmortem of the same incident is '{postmortems[0]}')" if postmortems else ""
        raise KBError(f"'{source_id}' is a {record.kind.value}; game days are built from postmortems{hint}")
    if not _section_text(record, "root_cause").strip():
        raise KBError(f"'{source_id}' has no root cause section to build an answer key from")
    searcher.keyword.ensure_fresh()
    guard = LeakGuard.for_record(record, searcher.keyword.passage_share)
    chat_id = find_chat(searcher, record)
    chat = store.get_record(chat_id) if chat_id else None
    timeline = _timeline(record)
    first = _first_page_index(timeline, record.date)
    recovery = _recovery_index(timeline, first + 1)

    clues: list[Clue] = []
    # observations before the page (what changed) and until the fix (what it looked like)
    for n in range(0, recovery):
        span = timeline[n][0]
        if (ACTION_VERBS.search(span.text) or ESCALATION.search(span.text)) and n >= first:
            continue  # responders' actions become outcomes or rubric items, not clues
        if guard.leaks(span.text) or FINDING.search(span.text):
            continue
        category, extra = _category(span.text)
        citation = _cite(record, span, "timeline")
        clues.append(
            Clue(
                key=_clue_key(citation),
                text=" ".join(clean_step(span.text).split()),
                category=category,
                trigger=Trigger(keywords=_keywords(span.text, extra)),
                citations=[citation],
            )
        )
    for span, section in _spans(record, "impact"):
        if not guard.leaks(span.text) and not ACTION_VERBS.search(span.text):
            citation = _cite(record, span, section)
            clues.append(
                Clue(
                    key=_clue_key(citation),
                    text=" ".join(clean_step(span.text).split()),
                    category="customer",
                    trigger=Trigger(keywords=_keywords(span.text, {"impact", "custom", "user", "support"})),
                    citations=[citation],
                )
            )
    rubric = _rubric(record, chat, timeline, first, recovery)
    # chat output counts as evidence until the responders' last finding before the fix
    findings = [int(i.id.split("-")[1]) for i in rubric if i.kind == "diagnosis"]
    cutoff = max(findings) if findings else recovery
    until = None
    cut_time = timeline[cutoff][1] if cutoff < len(timeline) else None
    if chat is not None and record.date and cut_time:
        hh, mm = cut_time.split()[-1].split(":")
        until = dt.datetime.combine(record.date, dt.time(int(hh), int(mm))) + dt.timedelta(minutes=1)
    if chat is not None:
        clues += _chat_clues(chat, guard, until)
    fixes = {i.action for i in rubric if i.kind == "mitigation"}
    clues += [c for c in _outcomes(record, timeline, first, recovery) if c.trigger.on_action not in fixes]

    up_front, every, herrings = LEVELS[difficulty]
    observation = [c for c in clues if c.category != "outcome"]
    for n, clue in enumerate(observation):
        if n < up_front:
            clue.trigger.up_front = True
        else:
            clue.trigger.after_turns = every * (n - up_front + 1)
    if herrings:
        clues += red_herrings(searcher, record, herrings, rng or random.Random(source_id))

    initial, initial_cites = _initial_page(record, chat, timeline, first, guard)
    truth = Truth(
        root_cause=_body(_section_text(record, "root_cause")),
        cause_text=_section_text(record, *CAUSE_SECTIONS),
        cause_terms=sorted(guard.cause_only),
        contributing_factors=[" ".join(clean_step(s.text).split()) for s, _ in _spans(record, "contributing_factors")],
        mitigation=" ".join(i.text for i in rubric if i.kind == "mitigation")
        or " ".join(clean_step(s.text) for s, _ in _spans(record, "resolution")[:2]),
        time_to_mitigate=_time_to_mitigate(timeline, first, recovery),
        impact_duration=record.duration,
        timeline=[
            DraftItem(section="timeline", text=" ".join(clean_step(s.text).split()), time=when,
                      citations=[_cite(record, s, "timeline")])
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
        runbooks=_helpful_runbooks(searcher, record),
    )
    role = _role(record)
    services = ", ".join(record.services) or "the affected services"
    when = record.date.strftime("%A %Y-%m-%d") if record.date else "a working day"
    paged = bool(timeline) and re.search(r"\b(fires?|fired|pages?|paged|alert)\b", timeline[first][0].text, re.I)
    how_it_starts = "you have just been paged" if paged or not timeline else "something has just been reported"
    briefing = (
        f"You are {role} for {services}. It is {when}; {how_it_starts}.\n"
        "Work the incident as you would for real: ask for data (\"show me the error logs\", \"what changed in "
        "the last hour?\", \"what does the dashboard say?\"), say what you think is going on, and take actions "
        "(\"roll back the deploy\", \"page the database on-call\"). The game master answers only from what was "
        "really observed. Type `hint` for a hint (it costs points) and `end` to finish."
    )
    # text that speaks to an AI or carries markup is never shown to a trainee: listed as dropped instead
    dropped: list[DroppedItem] = []
    clues = _fit(clues, lambda c: c.text, dropped)
    hints = _fit(_hints(searcher, truth, record), lambda h: h.text, dropped)
    truth.timeline = _fit(truth.timeline, lambda t: t.text, dropped)
    sources = {record.id: record.content_hash} | ({chat.id: chat.content_hash} if chat else {})
    stamp = now or dt.datetime.now(dt.UTC)
    return Scenario(
        id=scenario_id or scenario_name(record, difficulty),
        source_id=record.id,
        chat_id=chat.id if chat else None,
        title=f"Game day: {services} ({record.severity or 'incident'}, {record.date or 'undated'})",
        services=record.services,
        severity=record.severity,
        difficulty=difficulty,
        briefing=briefing,
        initial_page=initial,
        initial_citations=initial_cites,
        clues=clues,
        hints=hints,
        truth=truth,
        dropped=dropped,
        source_hashes=sources,
        related_ids=_related(searcher, record),
        created=stamp,
    )


def _fit(items: list[T], text_of: Callable[[T], str], dropped: list[DroppedItem]) -> list[T]:
    """The items whose text may be shown (``kb.guard.refusal``); the others added to ``dropped``."""
    kept = []
    for item in items:
        why = refusal(text_of(item))
        if why:
            dropped.append(DroppedItem(text=text_of(item), reason=why))
        else:
            kept.append(item)
    return kept


def _role(record: Record) -> str:
    detection = _section_text(record, "detection")
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
                candidates.append((f"{when} {line}".strip(), [_cite(chat, span, "chat")]))
                break
    if timeline:
        span = timeline[first][0]
        candidates.append((" ".join(clean_step(span.text).split()), [_cite(record, span, "timeline")]))
    for text, cites in candidates:
        if not guard.leaks(text) and refusal(text) is None:
            return text, cites
    alert = record.alerts[0] if record.alerts else "an alert on " + (", ".join(record.services) or "production")
    return f"[FIRING] {alert}", []


def _time_to_mitigate(timeline: list[tuple[Span, str | None]], first: int, recovery: int) -> str | None:
    start = timeline[first][1] if timeline else None
    end = timeline[recovery][1] if recovery < len(timeline) else None
    if not start or not end:
        return None
    t0, t1 = start.split()[-1], end.split()[-1]
    minutes = (int(t1[:-3]) * 60 + int(t1[-2:])) - (int(t0[:-3]) * 60 + int(t0[-2:]))
    if minutes < 0:
        minutes += 24 * 60
    return f"{minutes // 60}h {minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


def _helpful_runbooks(searcher: Searcher, record: Record) -> list[str]:
    text = " ".join([*record.alerts[:2], _section_text(record, "detection")[:600]])
    if not text.strip():
        return []
    return [d.record.id for d in searcher.search(Query(text=text, k=3, kinds=(Kind.runbook,)))]


def _hints(searcher: Searcher, truth: Truth, record: Record) -> list[DraftItem]:
    """From general to specific: the runbook for the alert, then the responders' diagnostic finding."""
    hints: list[DraftItem] = []
    for rid in truth.runbooks[:1]:
        runbook = searcher.store.get_record(rid)
        for section in runbook.sections:
            if section.name in ("triage", "diagnosis"):
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
    guard = LeakGuard.for_record(record, searcher.keyword.passage_share)
    for item in truth.rubric:
        if item.kind == "diagnosis":
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


def _related(searcher: Searcher, record: Record) -> list[str]:
    services = {s.lower() for s in record.services}
    return sorted(
        rid
        for rid, meta in searcher.keyword.record_meta.items()
        if rid != record.id
        and meta.get("kind") == Kind.postmortem.value
        and services & {s.lower() for s in str(meta.get("services", "")).split("|") if s}
    )


def red_herrings(searcher: Searcher, record: Record, count: int, rng: random.Random) -> list[Clue]:
    """Real observations from other incidents of the same services: plausible and beside the point."""
    others = _related(searcher, record)
    rng.shuffle(others)
    out: list[Clue] = []
    guard = LeakGuard.for_record(record, searcher.keyword.passage_share)
    for other_id in others:
        other = searcher.store.get_record(other_id)
        for span, when in _timeline(other)[:4]:
            if ACTION_VERBS.search(span.text) or guard.leaks(span.text) or not when or refusal(span.text):
                continue
            text = _TIME.sub("", " ".join(clean_step(span.text).split()))
            category, extra = _category(span.text)
            citation = _cite(other, span, "timeline")
            out.append(Clue(key=_clue_key(citation), text=text, category=category,
                            trigger=Trigger(keywords=_keywords(span.text, extra)), citations=[citation],
                            red_herring=True))
            break
        if len(out) >= count:
            break
    return out


# -- storage ------------------------------------------------------------------------------------


class ScenarioStore:
    """Scenarios and play sessions as JSON files under ``<data dir>/gamedays``."""

    def __init__(self, settings: Settings) -> None:
        self.root = settings.data_dir / "gamedays"

    @property
    def scenarios_dir(self) -> Path:
        return self.root / "scenarios"

    @property
    def sessions_dir(self) -> Path:
        return self.root / "sessions"

    def save(self, scenario: Scenario) -> Path:
        self.scenarios_dir.mkdir(parents=True, exist_ok=True)
        path = self.scenarios_dir / f"{scenario.id}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(scenario.model_dump_json(indent=2), encoding="utf-8")
        tmp.replace(path)
        return path

    def load(self, scenario_id: str) -> Scenario:
        path = self.scenarios_dir / f"{scenario_id}.json"
        if not path.exists():
            raise NotFound(f"no game-day scenario '{scenario_id}' (see `kb gameday list`)")
        try:
            return Scenario.model_validate_json(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise KBError(f"{path}: not a readable scenario ({str(exc)[:200]})") from exc

    def all(self) -> list[Scenario]:
        if not self.scenarios_dir.exists():
            return []
        return [self.load(p.stem) for p in sorted(self.scenarios_dir.glob("*.json"))]


def stale_reasons(searcher: Searcher, scenario: Scenario) -> list[str]:
    """Why a scenario no longer matches the knowledge base (empty when it is current)."""
    searcher.keyword.ensure_fresh()
    metas = searcher.keyword.record_meta
    reasons = []
    for doc_id, digest in scenario.source_hashes.items():
        meta = metas.get(doc_id)
        if meta is None:
            reasons.append(f"{doc_id} is no longer stored")
        elif meta.get("content_hash") != digest:
            reasons.append(f"{doc_id} changed")
    if scenario.source_id in metas:
        record = searcher.store.get_record(scenario.source_id)
        new = sorted(set(_related(searcher, record)) - set(scenario.related_ids))
        if new:
            reasons.append(f"new related incidents: {', '.join(new[:3])}")
    return reasons


def apply_edits(scenario: Scenario) -> Scenario:
    """Re-apply the game master's edits (clue wording, triggers) to the clues that still exist."""
    for clue in scenario.clues:
        edit = scenario.edits.get(clue.key)
        if not edit:
            continue
        if isinstance(edit.get("text"), str):
            clue.text = str(edit["text"])
        keywords = edit.get("keywords")
        if isinstance(keywords, list):
            clue.trigger.keywords = [str(k) for k in keywords]
        turns = edit.get("after_turns")
        if isinstance(turns, int):
            clue.trigger.after_turns = turns
    return scenario


def refresh(searcher: Searcher, scenarios: ScenarioStore, scenario_id: str) -> Scenario:
    """Rebuild a scenario from its (changed) sources, keeping its id, difficulty, edits and history."""
    old = scenarios.load(scenario_id)
    new = build_scenario(searcher, old.source_id, old.difficulty, scenario_id=old.id)
    new.edits = old.edits
    new.created = old.created
    new.refreshed = dt.datetime.now(dt.UTC)
    apply_edits(new)
    scenarios.save(new)
    return new


def edit_clue(
    scenarios: ScenarioStore, scenario_id: str, number: int, text: str | None = None,
    keywords: Sequence[str] | None = None, after_turns: int | None = None,
) -> Scenario:
    """Change clue ``number`` (1-based, as listed); the edit is kept across refreshes."""
    scenario = scenarios.load(scenario_id)
    if not 1 <= number <= len(scenario.clues):
        raise KBError(f"scenario '{scenario_id}' has clues 1-{len(scenario.clues)}, not {number}")
    clue = scenario.clues[number - 1]
    edit: dict[str, Any] = dict(scenario.edits.get(clue.key, {}))
    if text is not None:
        edit["text"] = text
    if keywords is not None:
        edit["keywords"] = sorted({t for k in keywords for t in terms_of(k)})
    if after_turns is not None:
        edit["after_turns"] = after_turns
    scenario.edits[clue.key] = edit
    apply_edits(scenario)
    scenarios.save(scenario)
    return scenario


def eligible(searcher: Searcher, service: str | None = None, severity: str | None = None) -> list[str]:
    """Postmortems a scenario can be built from, under the filters."""
    searcher.keyword.ensure_fresh()
    out = []
    for rid, meta in sorted(searcher.keyword.record_meta.items()):
        if meta.get("kind") != Kind.postmortem.value:
            continue
        if service and service.lower() not in {s.lower() for s in str(meta.get("services", "")).split("|")}:
            continue
        if severity and str(meta.get("severity", "")).upper() != severity.upper():
            continue
        out.append(rid)
    return out
