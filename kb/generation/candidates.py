"""The sentences and table rows that could answer a question, and the choice of the best of them (the
offline answer): word overlap weighted by rarity, similarity to the question, and the section it asks about."""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from kb.core.enums import SectionName
from kb.core.models import Citation, DraftItem, Kind, Passage, RankedDocument
from kb.generation.question import (
    DURATION,
    INCIDENT_KINDS,
    QUESTION_WORDS,
    WHEN,
    Asked,
    cosine_matrix,
    distinctive,
)
from kb.generation.quoting import quoted
from kb.retrieval.corpus import Corpus
from kb.retrieval.search import Query
from kb.retrieval.sectioning import name_section
from kb.text.fences import Fences, Role
from kb.text.steps import CLI_NAMES, Span, sentences, split_steps, table_rows, terms_of


@dataclass
class Candidate:
    passage: Passage
    section: str
    rank: int
    shown: str = ""  # how the answer shows it, when not the quoted text itself (a table row with its headers)
    penalty: float = 0.0
    own_search: bool = False  # found by a search of its own for what the question asks (an ownership table)


#: a bold label opening a line or list item ("- **Time to repair**: 2h 5m"): a field of a structured report
_FIELD = re.compile(r"[ \t]*(?:[-*+][ \t]+)?\*\*([^*\n]{1,60})\*\*")
#: a list item or field longer than this is quoted sentence by sentence
WHOLE_ITEM_CHARS = 700
#: two documents whose whole-text embeddings are at least this close are about the same incident or topic
SAME_SUBJECT = 0.8
#: candidates read from the whole text of each of the best documents, at most
PER_DOCUMENT = 60
#: what a field holding nothing but a duration or a date loses for a question that asks for neither ("**Time to
#: repair**: 2h 14m" says how long, never how it was fixed)
FIGURE_FIELD_PENALTY = 0.2


def field_section(text: str) -> str | None:
    """The section a field's bold label names ("**Resolution**: ..." -> resolution), None for other text."""
    match = _FIELD.match(text)
    if not match:
        return None
    name = name_section(match.group(1).strip().rstrip(":"))
    return None if name == SectionName.other else name.value


def figure_field(text: str) -> bool:
    """A field whose value is only a duration or a date ("**Time to repair**: 0h 31m", "- **Resolved**: 2021-06-09
    13:58")."""
    match = _FIELD.match(text)
    value = text[match.end() :].lstrip(":").strip() if match else ""
    return bool(value) and not any(ch.isalnum() for ch in WHEN.sub(" ", DURATION.sub(" ", value)))


def units(step: Span) -> list[Span]:
    """The pieces of a step an answer quotes, never cutting a list item: a list item or field whole (with
    its sub-items); a longer one as its sub-items, each whole; prose sentence by sentence."""
    text = step.text.lstrip()
    code = "```" in step.text
    if not (code or text[:1] in "-*+" or text[:1].isdigit() or _FIELD.match(text)):
        return sentences(step)
    if len(step.text) <= WHOLE_ITEM_CHARS:
        return [step]
    siblings = _sub_items(step, siblings=True)
    if len(siblings) > 1:  # items of one list joined into one step (an unclosed code block): each read alone
        return [unit for piece in siblings for unit in units(piece)]
    out: list[Span] = []
    for piece in _sub_items(step):
        out += [piece] if len(piece.text) <= WHOLE_ITEM_CHARS or "```" in piece.text else sentences(piece)
    return out


def blocks(text: str, base: int = 0) -> list[Span]:
    """The steps of a text, a lead-in ending in a colon joined with the code block under it ("Under `spec`
    add:" and its block are one instruction)."""
    out: list[Span] = []
    for step in split_steps(text, base):
        if out and out[-1].text.rstrip().endswith(":") and step.text.lstrip().startswith(("```", "~~~")):
            start = out[-1].start
            out[-1] = Span(start, step.end, text[start - base : step.end - base])
        else:
            out.append(step)
    return out


def _sub_items(step: Span, siblings: bool = False) -> list[Span]:
    """A list item cut at the lines that open its sub-items (each with its continuation lines), or with
    ``siblings`` at the items as little indented as its first line; never inside a code block, whose own list
    lines (YAML) belong to it."""
    starts = [0]
    offset = 0
    fences = Fences()
    indent = len(step.text) - len(step.text.lstrip(" \t"))
    for line in step.text.splitlines(keepends=True):
        stripped = line.lstrip()
        item = stripped[:2] in ("- ", "* ", "+ ") or _FIELD.match(stripped)
        if (fences.role(line.rstrip("\n")) is Role.TEXT and offset and item
                and (not siblings or len(line) - len(line.lstrip(" \t")) <= indent)):
            starts.append(offset + len(line) - len(stripped))
        offset += len(line)
    bounds = [*starts, len(step.text)]
    return [Span(step.start + a, step.start + a + len(step.text[a:b].rstrip()), step.text[a:b].rstrip())
            for a, b in itertools.pairwise(bounds) if step.text[a:b].strip()]


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
            for step in blocks(chunk.text, chunk.start):
                for sentence in units(step):
                    text = sentence.text.strip()
                    lead = sentence.start - chunk.start + len(sentence.text) - len(sentence.text.lstrip())
                    text = text[heading_length(text, lead <= 0 or chunk.text[lead - 1] == "\n") :]
                    if len(text) < 25 or len(text) > 700:
                        continue
                    at = chunk.text.find(text, sentence.start - chunk.start)
                    if at < 0:
                        continue
                    span = Span(chunk.start + at, chunk.start + at + len(text), text)
                    section = field_section(text) or field_section(step.text.lstrip()) or chunk.section
                    out.append(
                        Candidate(
                            Passage(id="", doc_id=chunk.record_id, title=doc.record.title, kind=doc.record.kind,
                                    section=section, start=span.start, end=span.end, text=text,
                                    date=doc.record.date),
                            section,
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



def ownership_rows(corpus: Corpus, asked: Asked, question: str, top: list[RankedDocument],
                   query: Query) -> list[Candidate]:
    """For "who owns X?": the rows of ownership and escalation tables in the runbooks that name X, even when
    the question's own results are other runbooks or incidents about X (ownership tables live in one process
    runbook, which answers whatever document search ranks first)."""
    if asked.kind != "who":
        return []
    extra = corpus.search(dataclasses.replace(query, text=f"{question} owner team on-call escalation", k=5,
                                                kinds=(Kind.runbook,)), passages_per_doc=4)
    ranks = {d.record.id: rank for rank, d in enumerate(top)}
    words = distinctive(corpus, question) - QUESTION_WORDS
    out = []
    for doc in extra:
        rows = table_row_candidates(corpus, doc, ranks.get(doc.record.id, len(top)))
        out += [dataclasses.replace(c, own_search=True) for c in rows if words & terms_of(c.passage.text)]
    return out


def document_candidates(corpus: Corpus, results: list[RankedDocument],
                        seen: set[tuple[str, int]]) -> list[Candidate]:
    """Every list item, field and sentence of the best documents' whole text, even where search matched
    another part of them: the field that holds the asked-for fact ("**Time to repair**: 2h 5m", a "Key
    events" list) is often not the passage that matched."""
    out: list[Candidate] = []
    for rank, doc in enumerate(results):
        record = corpus.record(doc.record.id)
        found: list[Candidate] = []
        for step in blocks(record.text):
            section = next((s.name for s in record.sections if s.start <= step.start < s.end), SectionName.body)
            for piece in units(step):
                line_start = piece.start == 0 or record.text[piece.start - 1] == "\n"
                start = piece.start + heading_length(record.text[piece.start : piece.end], line_start)
                fits = 12 <= piece.end - start <= WHOLE_ITEM_CHARS
                if {(record.id, piece.start), (record.id, start)} & seen or not fits:
                    continue
                text = record.text[start : piece.end]
                name = field_section(text) or field_section(step.text.lstrip()) or section
                found.append(Candidate(Passage(id="", doc_id=record.id, title=record.title, kind=record.kind,
                                               section=name, start=start, end=piece.end, text=text,
                                               date=record.date), name, rank))
        out += found[:PER_DOCUMENT]
    return out


def _score(asked: Asked, candidates: list[Candidate], q_vec: np.ndarray, corpus: Corpus,
           question: str) -> list[tuple[float, Candidate]]:
    """Each candidate's score: closeness to the question, the question's rare words it holds, the section
    the question asks about, and the written form of the asked-for fact (a duration, a date, a command)."""
    wanted = asked.sections
    words = terms_of(question)
    weights = {w: corpus.rarity(w) for w in words}
    vectors = np.asarray(corpus.embed_texts([c.shown or c.passage.text for c in candidates]), dtype=np.float32)
    sims = cosine_matrix(q_vec, vectors)[0]
    total = sum(weights.values()) or 1.0
    scored = []
    for c, sim in zip(candidates, sims, strict=True):
        shown = terms_of(c.shown or c.passage.text)
        if c.section in wanted:  # the section asked for, of a document about the question's subject
            shown |= terms_of(c.passage.title)
        overlap = sum(weights[w] for w in words & shown) / total
        # the section the question asks for first counts most ("how did we fix": resolution over lessons)
        bonus = 0.15 - 0.05 * wanted.index(c.section) if c.section in wanted else 0.0  # type: ignore[arg-type]
        if asked.fact is not None and asked.fact.search(c.passage.text):
            bonus += asked.fact_weight
        elif asked.kind and SectionName.timeline not in wanted and figure_field(c.passage.text):
            bonus -= FIGURE_FIELD_PENALTY  # answers live in the timeline for how long, when, how noticed
        scored.append((0.5 * float(sim) + 0.5 * overlap + bonus - 0.03 * c.rank - c.penalty, c))
    scored.sort(key=lambda x: -x[0])
    return scored


def focused(asked: Asked, question: str, candidates: list[Candidate], q_vec: np.ndarray,
            corpus: Corpus) -> tuple[str, list[tuple[float, Candidate]]]:
    """The candidates best first, kept to the document search ranks first and the documents about the same
    incident or topic (an answer is never stitched from unrelated documents); and the first document's id."""
    if not candidates:
        return "", []
    scored = _score(asked, candidates, q_vec, corpus, question)
    # the document search ranks first answers; a question for references takes the best pointer wherever it is
    best_rank = scored[0][1].rank if asked.wants_references else min(c.rank for c in candidates)
    primary = next(c.passage.doc_id for _, c in scored if c.rank == best_rank)
    related = same_subject(corpus, primary, {c.passage.doc_id for _, c in scored}) | {primary}
    return primary, [(score, c) for score, c in scored if c.passage.doc_id in related or c.own_search]


def _repeats(c: Candidate, chosen: list[Candidate], share: Callable[[str], float]) -> bool:
    """Whether a line says again what a chosen one says: most of its words are in it, and its rarest word is too
    (``kubectl scale deployment X`` after ``kubectl scale deployment Y`` names another thing to scale)."""
    words = terms_of(c.passage.text)
    for other in chosen:
        theirs = terms_of(other.passage.text)
        shared, new = words & theirs, words - theirs
        if len(shared) > 0.7 * len(words) and not (new and min(map(share, new)) < min(map(share, shared))):
            return True
    return False


def _same_incident(primary: Candidate, c: Candidate) -> bool:
    """Another record of the primary's incident: dated the same day, of another kind (its chat log)."""
    p = primary.passage
    return (c.passage.doc_id != p.doc_id and p.date is not None and c.passage.date == p.date
            and p.kind in INCIDENT_KINDS and c.passage.kind in INCIDENT_KINDS and c.passage.kind != p.kind)


def choose(primary: str, scored: list[tuple[float, Candidate]], max_items: int,
           share: Callable[[str], float] = lambda _word: 1.0) -> list[DraftItem]:
    """The best few of the focused candidates as answer lines, each cited, none repeating another: the
    best document's first, at most one from each related document; the other record of the same incident
    (the chat log of a postmortem's incident, or the reverse) always has its best line among them."""
    if not scored:
        return []
    chosen: list[Candidate] = []
    per_doc: dict[str, int] = {}
    for _score_value, c in scored:
        doc = c.passage.doc_id
        limit = max_items if doc == primary else 2 if c.own_search else 1
        if per_doc.get(doc, 0) >= limit or _repeats(c, chosen, share):
            continue
        chosen.append(c)
        per_doc[doc] = per_doc.get(doc, 0) + 1
        if len(chosen) >= max_items:
            break
    lead = next(c for _, c in scored if c.passage.doc_id == primary)
    twin = next((c for _, c in scored if _same_incident(lead, c) and not _repeats(c, chosen, share)), None)
    if twin is not None and twin.passage.doc_id not in per_doc:
        chosen = [*chosen[: max_items - 1], twin]
    return [
        DraftItem(
            section="answer",
            text=quoted(c.shown or c.passage.text),
            citations=[Citation(doc_id=c.passage.doc_id, section=c.section, start=c.passage.start,
                                end=c.passage.end, quote=c.passage.text[:240])],
        )
        for c in chosen
    ]


def same_subject(corpus: Corpus, primary: str, others: set[str]) -> set[str]:
    """The documents about the same incident or topic as ``primary``: their whole-document embeddings are
    close (a postmortem and the chat log of the same incident, a runbook and the incident it was written
    for), not merely of the same field."""
    ids = sorted(others - {primary})
    if not ids:
        return set()
    base = np.asarray([corpus.record_vector(primary)], dtype=np.float32)
    vectors = np.asarray([corpus.record_vector(i) for i in ids], dtype=np.float32)
    sims = cosine_matrix(base, vectors)[0]
    return {i for i, sim in zip(ids, sims, strict=True) if sim >= SAME_SUBJECT}
