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
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from pydantic import BaseModel, Field

from kb.clients.openai_client import ChatModel
from kb.core.enums import Generator, SectionName
from kb.core.models import Citation, DraftItem, DroppedItem, Kind, Passage, RankedDocument
from kb.generation.grounding import Evidence, require_grounded
from kb.generation.guard import caution_note
from kb.generation.prompting import ask_for_lines
from kb.retrieval.corpus import Corpus
from kb.retrieval.search import Query, bounded_query, newest_first
from kb.text.steps import CHAT_STAMP, CLI_NAMES, Span, sentences, split_steps, table_rows, terms_of

#: Below this cosine between the question and the best passage, and with few of the question's distinctive
#: words found, the knowledge base is taken not to know. Calibrated on the sample corpus: answerable
#: questions scored 0.52-0.76, unanswerable ones 0.15-0.40 (docs/ask.md).
MIN_COSINE = 0.40
MIN_COVERAGE = 0.5
STRONG_COSINE = 0.50  # close enough to count even when the question's rare words are phrased differently
FOLLOW_UP = re.compile(r"^\s*(and|also|what about|how about|then|so)\b|\b(it|that|this|they|them|those|the same)\b",
                       re.I)
INTENTS: tuple[tuple[re.Pattern[str], tuple[SectionName, ...]], ...] = (
    # who led or was paged in an incident: its timeline says (before "who owns", which asks for escalation)
    (re.compile(r"\b(incident commander|IC)\b|\bwho (?:was|were) (?:paged|on[- ]?call)\b", re.I),
     (SectionName.timeline, SectionName.detection)),
    (re.compile(r"\b(who|owns?|owner|on-?call|page|escalat\w*|contact)\b", re.I),
     (SectionName.escalation, SectionName.overview)),
    (re.compile(r"\b(why|root cause|caused?|because)\b", re.I),
     (SectionName.root_cause, SectionName.contributing_factors, SectionName.summary)),
    (re.compile(r"\b(how did we (?:fix|resolve|mitigate)|fix(?:ed)?|resolv\w*|mitigat\w*|recover\w*)\b", re.I),
     (SectionName.resolution, SectionName.mitigation, SectionName.lessons)),
    (re.compile(r"\b(has|have|did|ever|before|again|last time|happened)\b", re.I),
     (SectionName.summary, SectionName.impact)),
    (re.compile(r"\b(how (?:do|to|can)|steps?|check|runbook)\b", re.I),
     (SectionName.triage, SectionName.diagnosis, SectionName.mitigation)),
)
#: "the last / latest / most recent X", but not "the last 10 minutes" or "the last few days"
LATEST = re.compile(
    r"\b(?:last|latest|most recent|newest|previous|recent)\b"
    r"(?!\s+(?:\d|few\b|couple\b|(?:second|minute|hour|day|week|month|quarter|year)s?\b))",
    re.I,
)
INCIDENT_KINDS = (Kind.postmortem, Kind.chat)
YEAR = re.compile(r"\b(19[89]\d|20\d\d)\b")
REFERENCES_ASKED = re.compile(r"\b(which|what|list)\b.*\b(postmortems?|incidents|references|related|links?)\b", re.I)
DAY = re.compile(r"\b(\d{4}-\d\d-\d\d)\b")
MONTH = re.compile(r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\b", re.I)
#: how a question is phrased, not what it is about
QUESTION_WORDS = terms_of("what when where which how did does do we our us happened happen time times fixed fix "
                          "resolved resolve mitigated mitigate handled handle dealt deal go went why root cause caused "
                          "get got")


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


def _cosine_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-9)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-9)
    return a @ b.T


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
    question = bounded_query(question)
    text, previous = _search_text(question, conversation)
    query = Query(text=text, k=8, kinds=tuple(kinds), services=tuple(services), since=since)
    results = corpus.search(query, passages_per_doc=4)
    on_day = _on_the_day(corpus, question, query) if not previous else []
    if on_day:  # "what happened on 2024-09-05?": that day's documents first, whatever else matches
        day_ids = {d.record.id for d in on_day}
        results = on_day + [d for d in results if d.record.id not in day_ids]
    if previous:  # a follow-up: the documents the last answer used come first
        results.sort(key=lambda d: (d.record.id not in previous, -d.score))
    latest = bool(LATEST.search(question)) and not previous
    if latest:
        results, latest = _latest_first(corpus, question, results)
    q_vec = np.asarray([corpus.embed_query(question if not previous else text)], dtype=np.float32)
    confidence, coverage = _confidence(corpus, question, results, q_vec)
    # a content word no stored passage uses ("mainframe") means the question is about something else, unless
    # the passages are close anyway; a year no matching document is dated in means that incident is not stored
    unknown = sorted(w for w in terms_of(question) - QUESTION_WORDS if corpus.passage_share(w) == 0)
    years = set(YEAR.findall(question))
    missing_years = sorted(years - {str(d.record.date.year) for d in results if d.record.date})
    absent = _rarest_absent(corpus, question, results)
    close = confidence >= MIN_COSINE and coverage >= MIN_COVERAGE and not unknown and not absent
    known = (confidence >= STRONG_COSINE or close or bool(on_day)) and (not years or missing_years != sorted(years))
    if not results or not known:
        closest = [{"id": d.record.id, "title": d.record.title, "kind": d.record.kind.value} for d in results[:3]]
        message = "Not in the knowledge base: nothing stored answers this."
        if years and missing_years == sorted(years):
            message += f" No matching document is dated {' or '.join(missing_years)}."
        elif unknown and confidence < STRONG_COSINE:
            words = [w for w in re.findall(r"[\w-]+", question) if terms_of(w) and terms_of(w) <= set(unknown)]
            message += f" No stored document uses the word(s): {', '.join(dict.fromkeys(words))}."
        elif absent and confidence < STRONG_COSINE:
            words = [w for w in re.findall(r"[\w-]+", question) if terms_of(w) and terms_of(w) <= {absent}]
            message += f" The best match never mentions {', '.join(dict.fromkeys(words)) or absent}."
        if closest:
            message += " Closest documents: " + "; ".join(f"{c['id']} ({c['title']})" for c in closest)
        answer = Answer(question=question, answer=message, generator=Generator.none, confidence=confidence, found=False,
                        closest=closest)
        if conversation is not None:
            conversation.turns.append(answer)
        return answer
    top = _latest_incident(results) if latest else results
    if on_day:  # the day's documents answer, with undated ones (runbooks), not other days' incidents
        top = [d for d in top if d in on_day or not d.record.date]
    elif years:  # "in january 2025": the incidents of that year about the question answer it, not other years'
        about = _about(corpus, question)
        dated = [d for d in top if d.record.date and str(d.record.date.year) in years and about(d)]
        top = [d for d in top if d in dated or not d.record.date] if dated else top
    asked = LATEST.sub(" ", question) if latest else question  # "last" is not a word to find in the answer
    candidates = _candidate_sentences(corpus, asked, top[:5])
    candidates += _intent_sentences(corpus, asked, top[:3], {c.passage.start for c in candidates})
    candidates += _ownership_rows(corpus, asked, top[:5], query)
    wants_references = bool(REFERENCES_ASKED.search(question))
    for c in candidates:  # an incident of another year than the question names answers it only if nothing else does
        if years and c.passage.date and str(c.passage.date.year) not in years:
            c.penalty = 0.15
        if c.section == SectionName.references and not wants_references:  # a pointer to a document is not its content
            c.penalty += 0.1
    evidence = Evidence.numbered([c.passage for c in candidates])
    dropped: list[DroppedItem] = []
    if llm is None:
        items = _choose(asked, candidates, q_vec, corpus, max_items)
        generator = Generator.extractive
    else:
        reply = ask_for_lines(llm, "ask", evidence, ["answer"], on_text=on_text, question=question)
        items, dropped = evidence.check_generated(reply.lines, ["answer"])
        require_grounded(items, dropped, "answer")
        generator = Generator.llm
    items, bad = evidence.check_items(items)
    dropped += bad
    require_grounded(items, dropped, "answer")
    sources = list(dict.fromkeys(c.doc_id for i in items for c in i.citations))
    lines = [f"{i.text}\n{caution_note(i.cautions)}" if i.cautions else i.text for i in items]
    if generator == Generator.extractive:
        lines.append("(No LLM used: these are the passages that answer best, quoted.)")
    answer = Answer(question=question, answer="\n".join(lines), generator=generator, items=items, dropped=dropped,
                    sources=sources, confidence=confidence, newest_first=latest)
    if conversation is not None:
        conversation.turns.append(answer)
    return answer


def _confidence(
    corpus: Corpus, question: str, results: list[RankedDocument], q_vec: np.ndarray
) -> tuple[float, float]:
    if not results:
        return 0.0, 0.0
    texts = [h.chunk.text for d in results[:3] for h in d.hits[:2]]
    vectors = np.asarray(corpus.embed_texts(texts), dtype=np.float32)
    best = float(_cosine_matrix(q_vec, vectors).max()) if len(texts) else 0.0
    rare = _distinctive(corpus, question)
    found = terms_of(" ".join(texts) + " " + " ".join(d.record.title for d in results[:3]))
    coverage = len(rare & found) / max(1, len(rare))
    return max(0.0, min(1.0, best)), coverage


_OWN_LINE = re.compile(rf"^\s*({CHAT_STAMP}|[-*+] |\d+[.)] |\||\$ |# )")
_CHAT_LINE = re.compile(CHAT_STAMP)
_COMMAND_LINE = re.compile(rf"^\s*(?:\$ )?{CLI_NAMES}\s")
_LEAD_MARKER = re.compile(r"^(?:\d+[.)]|[-*+])[ \t]+(?=\S)")


#: the longest text quoted as one answer line
MAX_QUOTE_CHARS = 20_000


def quoted(text: str) -> str:
    """A passage as an answer line: wrapped prose joined into one line, but code blocks keep their lines
    (and fences); chat messages (with their pasted output), list items, table rows and shell commands
    (and a line after a trailing backslash) each keep a line of their own. A list marker at the very
    start goes (the answer numbers its lines itself)."""
    text = text[:MAX_QUOTE_CHARS]  # a passage is a few hundred words; more is not quoted
    out: list[list[str]] = []  # each line as parts, joined once at the end (+= on a long line is quadratic)
    in_code = False
    joinable = False
    chat = False  # from a chat message to the next blank line: never wrapped prose (pasted output stays)
    for raw in text.splitlines():
        chat = (chat or bool(_CHAT_LINE.match(raw))) and bool(raw.strip())
        line = raw.rstrip()
        if line.lstrip().startswith("```"):
            in_code = not in_code
            out.append([line.strip()])
            joinable = False
        elif in_code:
            out.append([line])
        elif not line.strip():
            joinable = False
        elif joinable and not chat and not _OWN_LINE.match(line) and not _COMMAND_LINE.match(line):
            out[-1].append(" " + " ".join(line.split()))
        else:
            out.append([line.strip() if chat else " ".join(line.split())])
            # a command (or a line continued with a backslash) is never wrapped prose: what follows starts anew
            continued = len(out) > 1 and out[-2][-1].endswith("\\")
            joinable = not _COMMAND_LINE.match(line) and not line.endswith("\\") and not continued
    return _LEAD_MARKER.sub("", "\n".join("".join(parts) for parts in out).strip(), count=1)


def quote_parts(text: str) -> list[tuple[str | None, str]]:
    """An answer line cut into its text and its code blocks, in order: (None, text) or (language, code)."""
    parts: list[tuple[str | None, str]] = []
    language: str | None = None  # inside a code block when not None
    lines: list[str] = []
    for line in text.split("\n"):
        if line.strip().startswith("```") and (language is None or line.strip() == "```"):
            if lines:
                parts.append((language, "\n".join(lines)))
            language, lines = (line.strip()[3:].strip() if language is None else None), []
        else:
            lines.append(line)
    if lines:
        parts.append((language, "\n".join(lines)))
    return [(lang, body) for lang, body in parts if body.strip()]


def _rarest_absent(corpus: Corpus, question: str, results: list[RankedDocument]) -> str | None:
    """A rare content word of the question (under 1% of passages use it: a name such as "AWS" in "the AWS
    TAM's phone number") that the best result never uses, the rarest such; else None."""
    shares = {w: corpus.passage_share(w) for w in terms_of(LATEST.sub(" ", question)) - QUESTION_WORDS}
    rare = {w: v for w, v in shares.items() if 0 < v < 0.01}
    if not rare or not results:
        return None
    best = results[0]
    shown = terms_of(best.record.title + " " + " ".join(h.chunk.text for h in best.hits))
    missing = sorted((v, w) for w, v in rare.items() if w not in shown)
    return missing[0][1] if missing else None


def _distinctive(corpus: Corpus, text: str) -> set[str]:
    """The text's words that at most a fifth of all passages use (all its words if none is that rare)."""
    words = terms_of(text)
    return {w for w in words if corpus.passage_share(w) < 0.2} or words


def _on_the_day(corpus: Corpus, question: str, query: Query) -> list[RankedDocument]:
    """The documents dated on a day the question names (2024-09-05), best match first; [] when it names
    none or nothing is dated then."""
    days: set[dt.date] = set()
    for text in DAY.findall(question):
        with contextlib.suppress(ValueError):
            days.add(dt.date.fromisoformat(text))
    if not days:
        return []
    found = corpus.search(dataclasses.replace(query, since=min(days), until=max(days)), passages_per_doc=4)
    return [d for d in found if d.record.date in days]


def _about(corpus: Corpus, question: str) -> Callable[[RankedDocument], bool]:
    """Whether a result is about what the question asks: its title and passages hold words that carry at
    least 60% of the rarity of the question's content words (question phrasing, recency words, months and
    years aside: the document's date carries those)."""
    words = terms_of(MONTH.sub(" ", YEAR.sub(" ", LATEST.sub(" ", question)))) - QUESTION_WORDS

    def about(doc: RankedDocument) -> bool:
        found = terms_of(doc.record.title + " " + " ".join(h.chunk.text for h in doc.hits))
        return bool(words) and corpus.covered(words, found) >= 0.6

    return about


def _latest_first(
    corpus: Corpus, question: str, results: list[RankedDocument]
) -> tuple[list[RankedDocument], bool]:
    """The dated incidents about what the question asks (holding words that carry at least 60% of its
    content words' rarity, question phrasing and recency words aside), newest first and ahead of the other
    results; False when there are none."""
    about = _about(corpus, question)
    matching = [d for d in results if d.record.kind in INCIDENT_KINDS and d.record.date and about(d)]
    if not matching:
        return results, False
    ordered = newest_first(matching)
    return ordered + [d for d in results if d not in ordered], True


def _latest_incident(results: list[RankedDocument]) -> list[RankedDocument]:
    """The documents of the newest incident (its postmortem and chat log share a date) at the head of
    ``results`` as ordered by ``_latest_first``."""
    day = results[0].record.date
    return [d for d in results if d.record.kind in INCIDENT_KINDS and d.record.date == day] or results[:1]


@dataclass
class _Candidate:
    passage: Passage
    section: str
    rank: int
    shown: str = ""  # how the answer shows it, when not the quoted text itself (a table row with its headers)
    penalty: float = 0.0


_HEADING_LINE = re.compile(r"#{0,6}[ \t]*[A-Z][\w /&()'-]{0,40}[ \t]*\n\s*(?=[A-Z0-9`\[*$-]|" + CLI_NAMES + r"\s)")


def _heading_length(text: str, line_start: bool = True) -> int:
    """The length of a heading line the sentence starts with ("Root cause\\nThe trigger was ...": text
    from a PDF, where headings are plain lines), 0 when it starts with its own words. Only a whole line
    (``line_start``) of at most five words, followed by a line that starts anew, is a heading."""
    match = _HEADING_LINE.match(text) if line_start else None
    if not match or len(match.group(0).split()) > 5 or match.group(0).rstrip().endswith((".", ":", "!", "?")):
        return 0
    return match.end()


def _candidate_sentences(corpus: Corpus, question: str, results: list[RankedDocument]) -> list[_Candidate]:
    out: list[_Candidate] = []
    for rank, doc in enumerate(results):
        for hit in doc.hits:
            chunk = hit.chunk
            for step in split_steps(chunk.text, chunk.start):
                for sentence in sentences(step) if "```" not in step.text else [step]:
                    text = sentence.text.strip()
                    lead = sentence.start - chunk.start + len(sentence.text) - len(sentence.text.lstrip())
                    text = text[_heading_length(text, lead <= 0 or chunk.text[lead - 1] == "\n") :]
                    if len(text) < 25 or len(text) > 700:
                        continue
                    at = chunk.text.find(text, sentence.start - chunk.start)
                    if at < 0:
                        continue
                    span = Span(chunk.start + at, chunk.start + at + len(text), text)
                    out.append(
                        _Candidate(
                            Passage(id="", doc_id=chunk.record_id, title=doc.record.title, kind=doc.record.kind,
                                    section=chunk.section, start=span.start, end=span.end, text=text,
                                    date=doc.record.date),
                            chunk.section,
                            rank,
                        )
                    )
        out += _table_row_candidates(corpus, doc, rank)
    seen: set[tuple[str, int]] = set()
    unique = []
    for c in out:
        key = (c.passage.doc_id, c.passage.start)
        if key not in seen:
            seen.add(key)
            unique.append(c)
    return unique[:80]


def _table_row_candidates(corpus: Corpus, doc: RankedDocument, rank: int) -> list[_Candidate]:
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
        out.append(_Candidate(Passage(id="", doc_id=record.id, title=record.title, kind=record.kind, section=section,
                                      start=row.span.start, end=row.span.end, text=row.span.text, date=record.date),
                              section, rank, shown=row.labelled))
    return out


def _wanted_sections(question: str) -> tuple[str, ...]:
    """The sections the question asks about, most wanted first ("who owns" -> escalation, overview)."""
    return next((sections for pattern, sections in INTENTS if pattern.search(question)), ())


def _ownership_rows(corpus: Corpus, question: str, top: list[RankedDocument], query: Query) -> list[_Candidate]:
    """For "who owns X?": the rows of ownership and escalation tables in the runbooks that name X, even when
    the question's own results are other runbooks about X (ownership tables live in one process runbook)."""
    wanted = _wanted_sections(question)
    if not wanted or wanted[0] != SectionName.escalation:
        return []
    extra = corpus.search(dataclasses.replace(query, text=f"{question} owner team on-call escalation", k=5,
                                                kinds=(Kind.runbook,)), passages_per_doc=4)
    shown = {d.record.id for d in top}
    words = _distinctive(corpus, question) - QUESTION_WORDS
    out = []
    for doc in extra:
        if doc.record.id in shown:
            continue
        out += [c for c in _table_row_candidates(corpus, doc, len(top)) if words & terms_of(c.passage.text)]
    return out


def _intent_sentences(
    corpus: Corpus, question: str, results: list[RankedDocument], seen: set[int]
) -> list[_Candidate]:
    """Sentences of the sections the question asks about ("who owns" -> escalation), from the top documents,
    even when search matched another part of them."""
    wanted = _wanted_sections(question)
    out: list[_Candidate] = []
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
                    start = sentence.start + _heading_length(record.text[sentence.start : sentence.end], line_start)
                    if sentence.start in seen or start in seen or not 25 <= sentence.end - start <= 700:
                        continue
                    text = record.text[start : sentence.end]
                    out.append(_Candidate(Passage(id="", doc_id=record.id, title=record.title, kind=record.kind,
                                                  section=section.name, start=start, end=sentence.end,
                                                  text=text, date=record.date), section.name, rank))
    return out[:30]


def _choose(question: str, candidates: list[_Candidate], q_vec: np.ndarray, corpus: Corpus,
            max_items: int) -> list[DraftItem]:
    if not candidates:
        return []
    wanted_sections = _wanted_sections(question)
    words = terms_of(question)
    weights = {w: corpus.rarity(w) for w in words}
    vectors = np.asarray(corpus.embed_texts([c.shown or c.passage.text for c in candidates]),
                         dtype=np.float32)
    sims = _cosine_matrix(q_vec, vectors)[0]
    total = sum(weights.values()) or 1.0
    scored = []
    for c, sim in zip(candidates, sims, strict=True):
        shown = terms_of(c.shown or c.passage.text)
        if c.section in wanted_sections:  # the section asked for, of a document about the question's subject
            shown |= terms_of(c.passage.title)
        overlap = sum(weights[w] for w in words & shown) / total
        # the section the question asks for first counts most ("how did we fix": resolution over lessons)
        bonus = 0.15 - 0.05 * wanted_sections.index(c.section) if c.section in wanted_sections else 0.0
        scored.append((0.5 * float(sim) + 0.5 * overlap + bonus - 0.03 * c.rank - c.penalty, c))
    scored.sort(key=lambda x: -x[0])
    chosen: list[_Candidate] = []
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
