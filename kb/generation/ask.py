"""Ask the knowledge base: cited answers to on-call questions, with follow-ups.

1. Retrieve with hybrid search (a follow-up question is searched together with the previous one,
   and the previous answer's sources come first).
2. Decide whether the knowledge base knows: the best passage's cosine similarity to the question (the
   dense retriever's own score) and the share of the question's distinctive words that the top passages
   contain. Under the bar the answer says so plainly and lists the closest documents.
3. Offline: choose the sentences of the top passages that answer best (word overlap weighted by rarity,
   plus similarity to the question, plus the section the question asks about: escalation for "who owns",
   root cause for "why", mitigation for "how did we fix"), each cited exactly. With an LLM: the model
   answers from those passages and every sentence's citations are checked (``kb.generation.grounding``).

A question about the latest occurrence ("how did we fix the last redis failover?") puts the past incidents
that match its distinctive words newest first, so the answer comes from the most recent one.

``ask`` runs these as named steps: retrieve -> decide known -> scope -> candidates -> choose or generate.
What the question asks is read in ``kb.generation.question``, the candidate sentences are gathered and
chosen in ``kb.generation.candidates``, and passages become answer lines in ``kb.generation.quoting``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from pydantic import BaseModel, Field

from kb.clients.openai_client import ChatModel
from kb.core.enums import Generator, SectionName
from kb.core.models import DraftItem, DroppedItem, Kind, RankedDocument
from kb.generation.candidates import (
    Candidate,
    candidate_sentences,
    choose,
    document_candidates,
    focused,
    ownership_rows,
)
from kb.generation.grounding import Evidence, require_grounded
from kb.generation.guard import caution_note
from kb.generation.prompting import grounded_lines
from kb.generation.question import (
    FOLLOW_UP,
    INCIDENT_KINDS,
    LATEST,
    QUESTION_WORDS,
    YEAR,
    Asked,
    absent_names,
    asked_kind,
    in_the_months,
    latest_first,
    latest_incident,
    match_strength,
    named_months,
    on_the_day,
    unknown_names,
)
from kb.retrieval.corpus import Corpus
from kb.retrieval.search import Query, bounded_query
from kb.text.steps import terms_of

#: Below this cosine between the question and the best passage, and with few of the question's distinctive
#: words found, the knowledge base is taken not to know. Calibrated on the sample corpus: answerable
#: questions scored 0.52-0.76, unanswerable ones 0.15-0.40 (docs/ask.md).
MIN_COSINE = 0.40
MIN_COVERAGE = 0.5
STRONG_COSINE = 0.50  # close enough to count even when the question's rare words are phrased differently
#: when the question names something no stored passage names, the closeness needed
NAMED_COSINE = 0.65
#: when the question uses a word no stored passage uses, the closeness needed
UNUSED_WORD_COSINE = 0.55
#: the best document's fused score below which the retrievers disagree on what answers (1.0: both rank it first)
MIN_AGREEMENT = 0.95
#: the best documents whose whole text is read for the answer (not only the passages that matched)
WHOLE_DOCUMENTS = 2
#: the candidates (best first) a model is given as evidence
MAX_EVIDENCE = 40


class Answer(BaseModel):
    """A cited answer (or a plain "not in the knowledge base")."""

    question: str
    answer: str = Field(description="The answer as text, one line per item, or the not-found message.")
    generator: Generator = Field(description="'extractive', 'llm' or 'none' (nothing relevant found).")
    items: list[DraftItem] = Field(default_factory=list)
    dropped: list[DroppedItem] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)
    confidence: float = Field(description="0-1: how well the best passages match the question.")
    found: bool = True
    closest: list[dict[str, str]] = Field(default_factory=list, description="Closest documents when not found.")
    note: str | None = Field(default=None, description="Why an LLM's reply was set aside for the quoted answer.")
    newest_first: bool = Field(default=False, description="The question asked for the latest occurrence: matching "
                               "incidents were taken newest first.")

    def as_json(self) -> dict[str, object]:
        return {
            "answer": self.answer,
            "generator": self.generator,
            "items": [i.model_dump(include={"text", "citations", "cautions"}) for i in self.items],
            "dropped": [d.model_dump() for d in self.dropped],
            "sources": self.sources,
            "confidence": round(self.confidence, 3),
            "found": self.found,
            "closest": self.closest,
            "newest_first": self.newest_first,
            "note": self.note,
        }


@dataclass
class Conversation:
    """The turns so far, so that follow-up questions resolve against them."""

    turns: list[Answer] = field(default_factory=list)

    @property
    def last(self) -> Answer | None:
        return self.turns[-1] if self.turns else None


def _search_text(question: str, conversation: Conversation | None) -> tuple[str, list[str]]:
    last = conversation.last if conversation else None
    if last is None or not FOLLOW_UP.search(question):
        return question, []
    return f"{last.question} {question}", list(last.sources)


@dataclass
class Retrieved:
    """What search found for a question: the documents in answering order and how they were ordered."""

    question: str  # as asked (bounded)
    text: str  # as searched: a follow-up is searched together with the previous question
    previous: list[str]  # the sources of the previous answer, when this is a follow-up
    query: Query
    results: list[RankedDocument]
    on_day: list[RankedDocument]  # the documents of the day the question names, if any
    in_month: list[RankedDocument]  # the documents of the month the question names, if any
    latest: bool  # the question asked for the latest occurrence and matching incidents come newest first
    q_vec: np.ndarray  # the question's embedding, (1, dim)


@dataclass
class Verdict:
    """Whether the knowledge base knows the answer, and the evidence for saying it does not."""

    confidence: float  # the best passage's cosine to the question
    known: bool
    years: set[str]  # the years the question names
    missing_years: list[str]  # those no result is dated in
    unknown: list[str]  # names in the question that no stored passage uses
    agreement: float  # the best document's fused score: 1.0 when both retrievers rank it first
    missing_month: bool  # the question names a month nothing matching is dated in


def ask(
    corpus: Corpus,
    question: str,
    conversation: Conversation | None = None,
    *,
    kinds: Sequence[Kind] = (),
    services: Sequence[str] = (),
    since: dt.date | None = None,
    llm: ChatModel | None = None,
    on_text: Callable[[str], None] | None = None,
    max_items: int = 4,
) -> Answer:
    """Answer a question from the knowledge base, citing every line."""
    found = _retrieve(corpus, bounded_query(question), conversation, kinds, services, since)
    verdict = _decide_known(corpus, found)
    if not found.results or not verdict.known:
        answer = _not_found(found, verdict)
    else:
        top = _scope(corpus, found, verdict)
        asked = LATEST.sub(" ", found.question) if found.latest else found.question  # "last" is not a word to find
        kind = asked_kind(corpus, asked)
        candidates = _candidates(corpus, found, verdict, kind, asked, top)
        answer = _answer(corpus, found, verdict, kind, asked, candidates, llm, on_text, max_items)
    if conversation is not None:
        conversation.turns.append(answer)
    return answer


def _retrieve(corpus: Corpus, question: str, conversation: Conversation | None, kinds: Sequence[Kind],
              services: Sequence[str], since: dt.date | None) -> Retrieved:
    """Hybrid search, then the order the question asks for: a named day's documents first, a follow-up's
    previous sources first, or the latest matching incident first."""
    text, previous = _search_text(question, conversation)
    query = Query(text=text, k=8, kinds=tuple(kinds), services=tuple(services), since=since)
    results = corpus.search(query, passages_per_doc=4)
    on_day = on_the_day(corpus, question, query) if not previous else []
    in_month = in_the_months(corpus, question, query) if not previous and not on_day else []
    if in_month:  # "the outage in January 2024": that month's documents first
        month_ids = {d.record.id for d in in_month}
        results = in_month + [d for d in results if d.record.id not in month_ids]
    if on_day:  # "what happened on 2024-09-05?": that day's documents first, whatever else matches
        day_ids = {d.record.id for d in on_day}
        results = on_day + [d for d in results if d.record.id not in day_ids]
    if previous:  # a follow-up: the documents the last answer used come first
        results.sort(key=lambda d: (d.record.id not in previous, -d.score))
    latest = bool(LATEST.search(question)) and not previous
    if latest:
        results, latest = latest_first(corpus, question, results)
    q_vec = np.asarray([corpus.embed_query(question if not previous else text)], dtype=np.float32)
    return Retrieved(question, text, previous, query, results, on_day, in_month, latest, q_vec)


def _decide_known(corpus: Corpus, found: Retrieved) -> Verdict:
    """Whether the results answer the question, from three signals calibrated together (docs/ask.md): how
    close the best passages are to the question, how much of its distinctive words they hold, and whether
    the two retrievers agree on the best document. A name no stored passage uses raises the closeness
    needed; a year or month nothing matching is dated in means that incident is not stored."""
    question, results = found.question, found.results
    confidence, coverage = match_strength(corpus, question, results, found.q_vec)
    years = set(YEAR.findall(question))
    missing_years = sorted(years - {str(d.record.date.year) for d in results if d.record.date})
    months = named_months(question)
    dated = {(d.record.date.year, d.record.date.month) for d in results if d.record.date}
    missing_months = bool(months) and not months & dated
    names = unknown_names(corpus, question) or absent_names(corpus, question, results[0] if results else None)
    # a content word no stored passage uses ("mainframe") raises the bar less than a name: questions paraphrase
    unused = sorted(w for w in terms_of(question) - QUESTION_WORDS if corpus.passage_share(w) == 0)
    agreement = results[0].score if results else 0.0
    bar = NAMED_COSINE if names else UNUSED_WORD_COSINE if unused else MIN_COSINE
    close = confidence >= max(bar, STRONG_COSINE) or (confidence >= bar and coverage >= MIN_COVERAGE)
    # an incident dated in the month the question names is evidence of its own: the loose bar is enough
    close = (close and agreement >= MIN_AGREEMENT) or (bool(found.in_month) and confidence >= MIN_COSINE)
    known = bool(found.on_day) or (close and not missing_months
                                   and (not years or missing_years != sorted(years)))
    return Verdict(confidence, known, years, missing_years, names + unused, agreement, missing_months)


def _not_found(found: Retrieved, verdict: Verdict) -> Answer:
    """The plain "not in the knowledge base", with why (a year, a word nothing uses) and the closest documents."""
    question, years = found.question, verdict.years
    closest = [{"id": d.record.id, "title": d.record.title, "kind": d.record.kind.value} for d in found.results[:3]]
    message = "Not in the knowledge base: nothing stored answers this."
    if years and verdict.missing_years == sorted(years):
        message += f" No matching document is dated {' or '.join(verdict.missing_years)}."
    elif verdict.missing_month:
        message += " No matching document is dated in the month it names."
    elif verdict.unknown and verdict.confidence < NAMED_COSINE:
        message += f" No stored document names {', '.join(verdict.unknown)}."
    elif verdict.agreement < MIN_AGREEMENT:
        message += " The closest documents match only loosely, each in a different way."
    else:
        message += " The closest passages are not close enough to the question."
    if closest:
        message += " Closest documents: " + "; ".join(f"{c['id']} ({c['title']})" for c in closest)
    return Answer(question=question, answer=message, generator=Generator.none, confidence=verdict.confidence,
                  found=False, closest=closest)


def _scope(corpus: Corpus, found: Retrieved, verdict: Verdict) -> list[RankedDocument]:
    """The documents that answer: the latest incident's, the named day's (and undated ones), or those of the
    named year among the best results first (then undated ones)."""
    top = latest_incident(found.results) if found.latest else found.results
    if found.on_day:  # the day's documents answer, with undated ones (runbooks), not other days' incidents
        top = [d for d in top if d in found.on_day or not d.record.date]
    elif verdict.years:  # "in january 2025": the incidents of that year among the best results answer it
        dated = [d for d in top[:5] if d.record.date and str(d.record.date.year) in verdict.years]
        dated.sort(key=lambda d: d.record.kind not in INCIDENT_KINDS)  # a year names an incident, not a review date
        top = dated + [d for d in top if not d.record.date] if dated else top  # that year's incident answers
    return top


def _candidates(corpus: Corpus, found: Retrieved, verdict: Verdict, kind: Asked, asked: str,
                top: list[RankedDocument]) -> list[Candidate]:
    """The items, fields, sentences and table rows that could answer, those of other years or pointing
    elsewhere marked down."""
    candidates = candidate_sentences(corpus, asked, top[:5])
    seen = {(c.passage.doc_id, c.passage.start) for c in candidates}
    candidates += document_candidates(corpus, top[:WHOLE_DOCUMENTS], seen)
    rows = ownership_rows(corpus, kind, asked, top[:5], found.query)
    own = {(c.passage.doc_id, c.passage.start) for c in rows}  # an ownership row found again is that row
    candidates = [c for c in candidates if (c.passage.doc_id, c.passage.start) not in own] + rows
    wants_references = kind.wants_references
    years = verdict.years
    for c in candidates:  # an incident of another year than the question names answers it only if nothing else does
        if years and c.passage.date and str(c.passage.date.year) not in years:
            c.penalty = 0.15
        if c.section == SectionName.references and not wants_references:  # a pointer to a document is not its content
            c.penalty += 0.1
    return candidates


def _answer(corpus: Corpus, found: Retrieved, verdict: Verdict, kind: Asked, asked: str,
            candidates: list[Candidate], llm: ChatModel | None, on_text: Callable[[str], None] | None,
            max_items: int) -> Answer:
    """The answer lines, chosen from the candidates (offline) or written by the model from them, every
    citation checked."""
    primary, scored = focused(kind, asked, candidates, found.q_vec, corpus)
    evidence = Evidence.numbered([c.passage for _, c in scored[:MAX_EVIDENCE]])
    dropped: list[DroppedItem] = []
    items: list[DraftItem] = []
    generator, note = Generator.extractive, None
    if llm is not None:
        items, dropped, note = grounded_lines(llm, "ask", evidence, ["answer"], "answer", on_text=on_text,
                                              question=found.question)
        generator = Generator.extractive if note else Generator.llm
    if generator == Generator.extractive:
        items = choose(primary, scored, max_items, corpus.passage_share)
    items, bad = evidence.check_items(items)
    dropped += bad
    require_grounded(items, dropped, "answer")
    sources = list(dict.fromkeys(c.doc_id for i in items for c in i.citations))
    lines = [f"{i.text}\n{caution_note(i.cautions)}" if i.cautions else i.text for i in items]
    if generator == Generator.extractive:
        lines.append(f"({note[:-1]}: these are the passages that answer best, quoted.)" if note else
                     "(No LLM used: these are the passages that answer best, quoted.)")
    return Answer(question=found.question, answer="\n".join(lines), generator=generator, items=items,
                  dropped=dropped, sources=sources, confidence=verdict.confidence, newest_first=found.latest,
                  note=note)
