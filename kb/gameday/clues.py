"""Clues of a scenario: the output responders pasted into the chat before the fix, what happened when they
acted without fixing it (outcomes), and red herrings (real observations from other incidents of the same
services). Each cites its source and is revealed by its keywords, an action or after some turns.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import re

from kb.core.enums import ActionKind, SectionName
from kb.core.models import Citation, Clue, Kind, Record, Trigger
from kb.gameday.cues import ACTION_VERBS, ESCALATION, FINDING, TELLING, action_class, category_of
from kb.gameday.leak import LeakGuard
from kb.gameday.timeline import TIME, cite, timeline_of
from kb.generation.guard import refusal
from kb.retrieval.corpus import Corpus
from kb.text.steps import NEGATIVE_OUTCOME, Span, clean_step, is_change, terms_of


def clue_key(citation: Citation) -> str:
    return hashlib.sha256(f"{citation.doc_id}|{citation.quote}".encode()).hexdigest()[:12]


def clue_keywords(text: str, extra: set[str]) -> list[str]:
    words = {t for t in terms_of(text) if not t.isdigit() and len(t) > 2}
    return sorted(words | extra)


def chat_clues(chat: Record, guard: LeakGuard, until: dt.datetime | None) -> list[Clue]:
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
            ActionKind.rollback, ActionKind.terminate, ActionKind.restart, ActionKind.failover, ActionKind.disable,
            ActionKind.raise_limit,
        ):
            continue
        span = Span(message.start, message.end, body)
        category, extra = category_of(body)
        citation = cite(chat, span, SectionName.chat)
        clues.append(
            Clue(
                key=clue_key(citation),
                text=clean_step(body)[:1200],
                category=category,
                trigger=Trigger(keywords=clue_keywords(asked_with(body), extra)),
                citations=[citation],
            )
        )
    return clues[:6]


PROMPT_LINE = re.compile(r"^\s*(?:\$ |\w+=[#>] |>\s|(?:SELECT|SHOW|EXPLAIN|kubectl|psql|redis-cli|curl)\b)", re.I)


def asked_with(body: str) -> str:
    """What a pasted message was about: its first line and the commands or queries it shows being run
    (so "what does pg_stat_activity show?" finds the pasted query result), not the output rows."""
    first, *rest = body.split("\n")
    return " ".join([first, *(line for line in rest if PROMPT_LINE.match(line))])


def outcome_clues(record: Record, timeline: list[tuple[Span, str | None]], first: int, recovery: int) -> list[Clue]:
    """What happened when responders acted before the fix: a run of entries about one kind of action
    (asked for, done, finished) and the observation after it."""
    clues = []
    n = first
    while n < recovery - 1:
        span, _ = timeline[n]
        # what was done is said first ("Scaling X from 12 to 18 tried; ... Reverted 11:58" is a scale-out)
        lead = re.split(r"[;.](?:\s|$)", span.text, maxsplit=1)[0]
        kind = (action_class(lead) or action_class(span.text)) if ACTION_VERBS.search(span.text) else None
        if kind is None or kind in TELLING:
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
        citation = cite(record, joined, SectionName.timeline)
        clues.append(
            Clue(
                key=clue_key(citation),
                text=" ".join(clean_step(joined.text).split()),
                category="outcome",
                trigger=Trigger(on_action=kind, keywords=clue_keywords(span.text, set())),
                citations=[citation],
            )
        )
        n = last + 1
    return clues


def related_postmortems(corpus: Corpus, record: Record) -> list[str]:
    services = {s.lower() for s in record.services}
    return sorted(
        rid
        for rid, meta in corpus.record_metas().items()
        if rid != record.id
        and meta.kind == Kind.postmortem
        and services & {s.lower() for s in meta.services}
    )


def red_herrings(corpus: Corpus, record: Record, count: int, rng: random.Random) -> list[Clue]:
    """Real observations from other incidents of the same services: plausible and beside the point."""
    others = related_postmortems(corpus, record)
    rng.shuffle(others)
    out: list[Clue] = []
    guard = LeakGuard.for_record(record, corpus.passage_share)
    for other_id in others:
        other = corpus.record(other_id)
        for span, when in timeline_of(other)[:4]:
            if ACTION_VERBS.search(span.text) or guard.leaks(span.text) or not when or refusal(span.text):
                continue
            text = TIME.sub("", " ".join(clean_step(span.text).split()))
            category, extra = category_of(span.text)
            citation = cite(other, span, SectionName.timeline)
            out.append(Clue(key=clue_key(citation), text=text, category=category,
                            trigger=Trigger(keywords=clue_keywords(span.text, extra)), citations=[citation],
                            red_herring=True))
            break
        if len(out) >= count:
            break
    return out
