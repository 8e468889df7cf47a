"""Clues of a scenario: the output responders pasted into the chat before the fix, what happened when they
acted without fixing it (outcomes), and red herrings (real observations from other incidents of the same
services). Each cites its source and is revealed when asked for, on an action or after some turns. Nothing
from the fix on, and nothing that states the cause, becomes a clue.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import re

from kb.core.enums import MessageKind, SectionName
from kb.core.models import Citation, Clue, Kind, Record, Trigger
from kb.gameday.cues import ACTING, TELLING, evidence_kinds, line_kinds
from kb.gameday.incident import Incident
from kb.gameday.leak import LeakGuard
from kb.gameday.timeline import TIME, cite, plain, timeline_of
from kb.generation.guard import refusal
from kb.retrieval import cues as message_cues
from kb.retrieval.corpus import Corpus
from kb.text.steps import Span, clean_step, terms_of

#: kinds of line that are not evidence a trainee may see before the end
NOT_EVIDENCE = (*ACTING, MessageKind.made_worse, MessageKind.recovery, MessageKind.hypothesis,
                MessageKind.action_item)


def clue_key(citation: Citation) -> str:
    return hashlib.sha256(f"{citation.doc_id}|{citation.quote}".encode()).hexdigest()[:12]


def clue_keywords(text: str, extra: set[str] | None = None) -> list[str]:
    words = {t for t in terms_of(text) if not t.isdigit() and len(t) > 2}
    return sorted(words | (extra or set()))


def chat_clues(chat: Record, guard: LeakGuard, until: dt.datetime | None) -> list[Clue]:
    """Output responders pasted into the chat before the fix began (logs, query results), not actions,
    guesses or anything that states the cause."""
    pasted = []
    for message in chat.messages:
        if until is None or (message.ts and message.ts >= until):
            break
        body = chat.text[message.start : message.end]
        if "\n" in body and not guard.leaks(body):
            pasted.append((message, body))
    firsts = [body.split("\n", 1)[0] for _m, body in pasted]
    # only a lead-in the model is sure of keeps the paste from the clues: a few words ("checkout errors:",
    # "who's holding them:") say little, and output pasted is evidence
    kinds = [message_cues.sure_kind(v) for v in message_cues.judge(firsts)]
    evidence = evidence_kinds([body for _m, body in pasted])
    clues = []
    for (message, body), kind, category in zip(pasted, kinds, evidence, strict=True):
        if kind in NOT_EVIDENCE:
            continue
        citation = cite(chat, Span(message.start, message.end, body), SectionName.chat)
        clues.append(Clue(key=clue_key(citation), text=clean_step(body)[:1200], category=category,
                          trigger=Trigger(keywords=clue_keywords(asked_with(body))), citations=[citation]))
    return clues[:6]


PROMPT_LINE = re.compile(r"^\s*(?:\$ |\w+=[#>] |>\s|(?:SELECT|SHOW|EXPLAIN|kubectl|psql|redis-cli|curl)\b)", re.I)


def asked_with(body: str) -> str:
    """What a pasted message was about: its first line and the commands or queries it shows being run
    (so "what does pg_stat_activity show?" finds the pasted query result), not the output rows."""
    first, *rest = body.split("\n")
    return " ".join([first, *(line for line in rest if PROMPT_LINE.match(line))])


def outcome_clues(incident: Incident) -> list[Clue]:
    """What happened when responders acted before the fix: the action and what was seen right after it."""
    clues = []
    for n in range(incident.first + 1, incident.fix):
        kind = incident.actions[n]
        if incident.kinds[n] not in ACTING or kind is None or kind in TELLING:
            continue
        last = n
        after = n + 1
        if after < incident.fix and incident.kinds[after] in (MessageKind.observation, MessageKind.made_worse) \
                and not incident.states_cause[after]:
            last = after
        if incident.guard.leaks(incident.text(n)) or incident.states_cause[n]:
            continue
        start, end = incident.timeline[n][0].start, incident.timeline[last][0].end
        joined = Span(start, end, incident.record.text[start:end])
        citation = cite(incident.record, joined, SectionName.timeline)
        clues.append(Clue(key=clue_key(citation), text=" ".join(clean_step(joined.text).split()), category="outcome",
                          trigger=Trigger(on_action=kind, keywords=clue_keywords(incident.text(n))),
                          citations=[citation]))
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
    for other_id in others[: count * 3]:
        other = corpus.record(other_id)
        entries = [(s, w) for s, w in timeline_of(other)[:4] if w and not guard.leaks(s.text) and not refusal(s.text)]
        texts = [plain(s.text) for s, _w in entries]
        for (span, _when), kind, category in zip(entries, line_kinds(texts), evidence_kinds(texts), strict=True):
            if kind not in (MessageKind.observation, MessageKind.report):
                continue
            text = TIME.sub("", " ".join(clean_step(span.text).split()))
            citation = cite(other, span, SectionName.timeline)
            out.append(Clue(key=clue_key(citation), text=text, category=category,
                            trigger=Trigger(keywords=clue_keywords(span.text)), citations=[citation],
                            red_herring=True))
            break
        if len(out) >= count:
            break
    return out
