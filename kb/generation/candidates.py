"""The sentences and table rows that could answer a question, and the choice of the best of them (the
offline answer): word overlap weighted by rarity, similarity to the question, and the section it asks about."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

import numpy as np

from kb.core.enums import SectionName
from kb.core.models import Citation, DraftItem, Kind, Passage, RankedDocument
from kb.generation.question import QUESTION_WORDS, cosine_matrix, distinctive, wanted_sections
from kb.generation.quoting import quoted
from kb.retrieval.corpus import Corpus
from kb.retrieval.search import Query
from kb.text.steps import CLI_NAMES, Span, sentences, split_steps, table_rows, terms_of


@dataclass
class Candidate:
    passage: Passage
    section: str
    rank: int
    shown: str = ""  # how the answer shows it, when not the quoted text itself (a table row with its headers)
    penalty: float = 0.0


_HEADING_LINE = re.compile(r"#{0,6}[ \t]*[A-Z][\w /&()'-]{0,40}[ \t]*\n\s*(?=[A-Z0-9`\[*$-]|" + CLI_NAMES + r"\s)")


def heading_length(text: str, line_start: bool = True) -> int:
    """The length of a heading line the sentence starts with ("Root cause\\nThe trigger was ...": text
    from a PDF, where headings are plain lines), 0 when it starts with its own words. Only a whole line
    (``line_start``) of at most five words, followed by a line that starts anew, is a heading."""
    match = _HEADING_LINE.match(text) if line_start else None
    if not match or len(match.group(0).split()) > 5 or match.group(0).rstrip().endswith((".", ":", "!", "?")):
        return 0
    return match.end()


def candidate_sentences(corpus: Corpus, question: str, results: list[RankedDocument]) -> list[Candidate]:
    out: list[Candidate] = []
    for rank, doc in enumerate(results):
        for hit in doc.hits:
            chunk = hit.chunk
            for step in split_steps(chunk.text, chunk.start):
                for sentence in sentences(step) if "```" not in step.text else [step]:
                    text = sentence.text.strip()
                    lead = sentence.start - chunk.start + len(sentence.text) - len(sentence.text.lstrip())
                    text = text[heading_length(text, lead <= 0 or chunk.text[lead - 1] == "\n") :]
                    if len(text) < 25 or len(text) > 700:
                        continue
                    at = chunk.text.find(text, sentence.start - chunk.start)
                    if at < 0:
                        continue
                    span = Span(chunk.start + at, chunk.start + at + len(text), text)
                    out.append(
                        Candidate(
                            Passage(id="", doc_id=chunk.record_id, title=doc.record.title, kind=doc.record.kind,
                                    section=chunk.section, start=span.start, end=span.end, text=text,
                                    date=doc.record.date),
                            chunk.section,
                            rank,
                        )
                    )
        out += table_row_candidates(corpus, doc, rank)
    seen: set[tuple[str, int]] = set()
    unique = []
    for c in out:
        key = (c.passage.doc_id, c.passage.start)
        if key not in seen:
            seen.add(key)
            unique.append(c)
    return unique[:80]


def table_row_candidates(corpus: Corpus, doc: RankedDocument, rank: int) -> list[Candidate]:
    """The rows of the tables the matched passages touch ("| payments-gateway | Payments | ... |"), each read
    with its column names; tables are cut across passages, so rows are read from the whole record."""
    spans = [(h.chunk.start, h.chunk.end, h.chunk.section) for h in doc.hits]
    if not any("|" in h.chunk.text for h in doc.hits):
        return []
    record = corpus.record(doc.record.id)
    out = []
    for row in table_rows(record.text):
        section = next((name for start, end, name in spans if start <= row.span.start < end), None)
        if section is None or not 10 <= len(row.span.text) <= 700:
            continue
        out.append(Candidate(Passage(id="", doc_id=record.id, title=record.title, kind=record.kind, section=section,
                                      start=row.span.start, end=row.span.end, text=row.span.text, date=record.date),
                              section, rank, shown=row.labelled))
    return out



def ownership_rows(corpus: Corpus, question: str, top: list[RankedDocument], query: Query) -> list[Candidate]:
    """For "who owns X?": the rows of ownership and escalation tables in the runbooks that name X, even when
    the question's own results are other runbooks about X (ownership tables live in one process runbook)."""
    wanted = wanted_sections(question)
    if not wanted or wanted[0] != SectionName.escalation:
        return []
    extra = corpus.search(dataclasses.replace(query, text=f"{question} owner team on-call escalation", k=5,
                                                kinds=(Kind.runbook,)), passages_per_doc=4)
    shown = {d.record.id for d in top}
    words = distinctive(corpus, question) - QUESTION_WORDS
    out = []
    for doc in extra:
        if doc.record.id in shown:
            continue
        out += [c for c in table_row_candidates(corpus, doc, len(top)) if words & terms_of(c.passage.text)]
    return out


def intent_sentences(
    corpus: Corpus, question: str, results: list[RankedDocument], seen: set[int]
) -> list[Candidate]:
    """Sentences of the sections the question asks about ("who owns" -> escalation), from the top documents,
    even when search matched another part of them."""
    wanted = wanted_sections(question)
    out: list[Candidate] = []
    for rank, doc in enumerate(results):
        record = corpus.record(doc.record.id)
        names = {section.name for section in record.sections}
        # the first of the asked-about sections that the document has ("how did we fix": resolution, else
        # mitigation), so a postmortem that tells its fix under another heading still answers
        first = next((name for name in wanted if name in names), None)
        for section in record.sections:
            if section.name != first:
                continue
            for step in split_steps(record.text[section.start : section.end], section.start):
                for sentence in sentences(step):
                    line_start = sentence.start == 0 or record.text[sentence.start - 1] == "\n"
                    start = sentence.start + heading_length(record.text[sentence.start : sentence.end], line_start)
                    if sentence.start in seen or start in seen or not 25 <= sentence.end - start <= 700:
                        continue
                    text = record.text[start : sentence.end]
                    out.append(Candidate(Passage(id="", doc_id=record.id, title=record.title, kind=record.kind,
                                                  section=section.name, start=start, end=sentence.end,
                                                  text=text, date=record.date), section.name, rank))
    return out[:30]


def choose(question: str, candidates: list[Candidate], q_vec: np.ndarray, corpus: Corpus,
           max_items: int) -> list[DraftItem]:
    """The best few candidates as answer lines, each cited: at most two per document, none repeating another."""
    if not candidates:
        return []
    wanted = wanted_sections(question)
    words = terms_of(question)
    weights = {w: corpus.rarity(w) for w in words}
    vectors = np.asarray(corpus.embed_texts([c.shown or c.passage.text for c in candidates]),
                         dtype=np.float32)
    sims = cosine_matrix(q_vec, vectors)[0]
    total = sum(weights.values()) or 1.0
    scored = []
    for c, sim in zip(candidates, sims, strict=True):
        shown = terms_of(c.shown or c.passage.text)
        if c.section in wanted:  # the section asked for, of a document about the question's subject
            shown |= terms_of(c.passage.title)
        overlap = sum(weights[w] for w in words & shown) / total
        # the section the question asks for first counts most ("how did we fix": resolution over lessons)
        bonus = 0.15 - 0.05 * wanted.index(c.section) if c.section in wanted else 0.0
        scored.append((0.5 * float(sim) + 0.5 * overlap + bonus - 0.03 * c.rank - c.penalty, c))
    scored.sort(key=lambda x: -x[0])
    chosen: list[Candidate] = []
    per_doc: dict[str, int] = {}
    for _score, c in scored:
        if per_doc.get(c.passage.doc_id, 0) >= 2 or any(
            len(terms_of(c.passage.text) & terms_of(o.passage.text)) > 0.7 * len(terms_of(c.passage.text))
            for o in chosen
        ):
            continue
        chosen.append(c)
        per_doc[c.passage.doc_id] = per_doc.get(c.passage.doc_id, 0) + 1
        if len(chosen) >= max_items:
            break
    return [
        DraftItem(
            section="answer",
            text=quoted(c.shown or c.passage.text),
            citations=[Citation(doc_id=c.passage.doc_id, section=c.section, start=c.passage.start,
                                end=c.passage.end, quote=c.passage.text[:240])],
        )
        for c in chosen
    ]
