"""What a question asks, read from its words: follow-ups, the sections it wants, the latest occurrence, a
day or a year, and how well the best passages match it (``kb.generation.ask`` uses these)."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from kb.core.enums import SectionName
from kb.core.models import Kind, RankedDocument
from kb.retrieval.corpus import Corpus
from kb.retrieval.cues import SENTENCE_END
from kb.retrieval.meaning import classifier, load_examples
from kb.retrieval.search import Query, newest_first
from kb.text.steps import terms_of

FOLLOW_UP = re.compile(r"^\s*(and|also|what about|how about|then|so)\b|\b(it|that|this|they|them|those|the same)\b",
                       re.I)
#: two kinds closer than this: the question asks for neither in particular
MIN_KIND_MARGIN = 0.0
#: the example task that says what a question asks (kb/retrieval/examples/questions/: one file per kind)
QUESTION_TASK = "questions"
#: the sections that hold each kind of answer, most wanted first
KIND_SECTIONS: dict[str, tuple[SectionName, ...]] = {
    "lead": (SectionName.timeline, SectionName.detection),
    "who": (SectionName.escalation, SectionName.overview),
    "cause": (SectionName.root_cause, SectionName.contributing_factors, SectionName.summary),
    "resolution": (SectionName.resolution, SectionName.mitigation, SectionName.lessons),
    "impact": (SectionName.impact, SectionName.summary),
    "summary": (SectionName.summary, SectionName.impact),
    "howto": (SectionName.triage, SectionName.diagnosis, SectionName.mitigation),
    "duration": (SectionName.timeline, SectionName.summary),
    "time": (SectionName.timeline, SectionName.detection),
    "detection": (SectionName.detection, SectionName.timeline),
    "references": (SectionName.references,),
}
#: the written form of the fact some kinds ask for (syntax only): a duration ("2h 5m", "40 minutes"), a date or
#: clock time, a number, a command (in backticks, a code block or after a prompt)
DURATION = re.compile(r"\b\d+(?:\.\d+)?\s?(?:[hmdsw]|hrs?|mins?|secs?|(?:hour|minute|second|day|week)s?)\b", re.I)
WHEN = re.compile(r"\b\d{4}-\d\d-\d\d\b|\b\d{1,2}:\d\d\b|\b\d{1,2}(?:st|nd|rd|th)?\s+[A-Z][a-z]{2,8}\s+\d{4}\b")
NUMBER = re.compile(r"\d")
COMMAND = re.compile(r"`[^`\n]+`|^\s*\$ ", re.M)
FACT_FORMS: dict[str, re.Pattern[str]] = {"duration": DURATION, "time": WHEN, "threshold": NUMBER, "howto": COMMAND}
#: how much holding the fact's form counts: a duration or a date is the answer itself; a number or a command
#: only makes a line likelier to be one
FACT_WEIGHTS = {"duration": 0.35, "time": 0.25, "threshold": 0.1, "howto": 0.1}
#: "the last / latest / most recent X", but not "the last 10 minutes" or "the last few days"
LATEST = re.compile(
    r"\b(?:last|latest|most recent|newest|previous|recent)\b"
    r"(?!\s+(?:\d|few\b|couple\b|(?:second|minute|hour|day|week|month|quarter|year)s?\b))",
    re.I,
)
INCIDENT_KINDS = (Kind.postmortem, Kind.chat)
YEAR = re.compile(r"\b(19[89]\d|20\d\d)\b")
DAY = re.compile(r"\b(\d{4}-\d\d-\d\d)\b")
_MONTHS = {name: n for n, name in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)}
MONTH = re.compile(r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\b", re.I)
#: how a question is phrased, not what it is about
QUESTION_WORDS = terms_of("what when where which how did does do we our us happened happen time times fixed fix "
                          "resolved resolve mitigated mitigate handled handle dealt deal go went why root cause caused "
                          "get got")



def cosine_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-9)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-9)
    return a @ b.T



def match_strength(
    corpus: Corpus, question: str, results: list[RankedDocument], q_vec: np.ndarray
) -> tuple[float, float]:
    if not results:
        return 0.0, 0.0
    texts = [h.chunk.text for d in results[:3] for h in d.hits[:2]]
    vectors = np.asarray(corpus.embed_texts(texts), dtype=np.float32)
    best = float(cosine_matrix(q_vec, vectors).max()) if len(texts) else 0.0
    rare = distinctive(corpus, question)
    found = terms_of(" ".join(texts) + " " + " ".join(d.record.title for d in results[:3]))
    coverage = len(rare & found) / max(1, len(rare))
    return max(0.0, min(1.0, best)), coverage



def distinctive(corpus: Corpus, text: str) -> set[str]:
    """The text's words that at most a fifth of all passages use (all its words if none is that rare)."""
    words = terms_of(text)
    return {w for w in words if corpus.passage_share(w) < 0.2} or words


def on_the_day(corpus: Corpus, question: str, query: Query) -> list[RankedDocument]:
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


def named_months(question: str) -> set[tuple[int, int]]:
    """The (year, month) pairs a question names ("in January 2024", "on 13 October 2025")."""
    out = set()
    for match in MONTH.finditer(question):
        year = YEAR.match(question[match.end() :].lstrip())
        number = _MONTHS.get(match.group(1).lower()[:3])
        if year and number:
            out.add((int(year.group(1)), number))
    return out


def in_the_months(corpus: Corpus, question: str, query: Query) -> list[RankedDocument]:
    """The documents dated in a month the question names, best match first; [] when it names none or
    nothing is dated then."""
    months = named_months(question)
    if not months:
        return []
    first = min(dt.date(y, m, 1) for y, m in months)
    last = max(dt.date(y + m // 12, m % 12 + 1, 1) - dt.timedelta(days=1) for y, m in months)
    found = corpus.search(dataclasses.replace(query, since=first, until=last), passages_per_doc=4)
    return [d for d in found if d.record.date and (d.record.date.year, d.record.date.month) in months]


def absent_names(corpus: Corpus, question: str, best: RankedDocument | None) -> list[str]:
    """The words of the question written as names that under 1% of passages use and the best result never
    does ("the AWS TAM" when the best match is another vendor's TAM)."""
    if best is None:
        return []
    shown = terms_of(best.record.title + " " + " ".join(h.chunk.text for h in best.hits))
    out = []
    for word in _names(question):
        terms = terms_of(word)
        if terms and all(0 < corpus.passage_share(t) < 0.01 for t in terms) and not terms & shown:
            out.append(word)
    return out


def _names(question: str) -> list[str]:
    """The words of a question written as names: with a capital, month names aside."""
    words = (w.strip(".,;:!?()[]\"'") for w in question.split())
    return list(dict.fromkeys(w for w in words if w and not w.islower() and any(c.isupper() for c in w)
                              and not MONTH.fullmatch(w)))


def unknown_names(corpus: Corpus, question: str) -> list[str]:
    """The words of the question written as names (with a capital: "Istio", "MSK", "HashiCorp"; month names
    aside) that no stored passage uses: the question is about something the corpus never names."""
    out = []
    for sentence in SENTENCE_END.split(question.strip()):
        for word in sentence.split():
            word = word.strip(".,;:!?()[]\"'")
            terms = terms_of(word) | terms_of(word.removesuffix("s"))  # "SEV1s" is the plural of a stored "SEV1"
            if (not terms or word.islower() or not any(c.isupper() for c in word) or MONTH.fullmatch(word)
                    or any(corpus.passage_share(t) > 0 for t in terms)):
                continue
            out.append(word)
    return list(dict.fromkeys(out))


def is_about(corpus: Corpus, question: str) -> Callable[[RankedDocument], bool]:
    """Whether a result is about what the question asks: its title and passages hold words that carry at
    least 60% of the rarity of the question's content words (question phrasing, recency words, months and
    years aside: the document's date carries those)."""
    words = terms_of(MONTH.sub(" ", YEAR.sub(" ", LATEST.sub(" ", question)))) - QUESTION_WORDS

    def about(doc: RankedDocument) -> bool:
        found = terms_of(doc.record.title + " " + " ".join(h.chunk.text for h in doc.hits))
        return bool(words) and corpus.covered(words, found) >= 0.6

    return about


def latest_first(
    corpus: Corpus, question: str, results: list[RankedDocument]
) -> tuple[list[RankedDocument], bool]:
    """The dated incidents about what the question asks (holding words that carry at least 60% of its
    content words' rarity, question phrasing and recency words aside), newest first and ahead of the other
    results; False when there are none."""
    about = is_about(corpus, question)
    matching = [d for d in results if d.record.kind in INCIDENT_KINDS and d.record.date and about(d)]
    if not matching:
        return results, False
    ordered = newest_first(matching)
    return ordered + [d for d in results if d not in ordered], True


def latest_incident(results: list[RankedDocument]) -> list[RankedDocument]:
    """The documents of the newest incident (its postmortem and chat log share a date) at the head of
    ``results`` as ordered by ``latest_first``."""
    day = results[0].record.date
    return [d for d in results if d.record.kind in INCIDENT_KINDS and d.record.date == day] or results[:1]



@dataclass(frozen=True)
class Asked:
    """What a question asks for: its kind (a label of the ``questions`` examples, None when no kind is close),
    the sections that hold such answers, and the written form of the fact when the kind has one."""

    kind: str | None
    sections: tuple[SectionName, ...] = ()
    fact: re.Pattern[str] | None = None
    fact_weight: float = 0.0  # what holding the fact's form adds to a line's score

    @property
    def wants_references(self) -> bool:
        return self.kind == "references"


NO_KIND = Asked(None)


@lru_cache(maxsize=1)
def asking_words() -> frozenset[str]:
    """The words of the labelled example questions: the vocabulary of asking ("owns", "fix", "drain")."""
    return frozenset(t for lines in load_examples(QUESTION_TASK).values() for line in lines for t in terms_of(line))


def question_frame(corpus: Corpus, question: str) -> str:
    """The part of a question that asks: its last sentence (a story before it only sets the scene),
    without the words that neither a stored passage nor a labelled question uses (names the corpus has never
    seen say nothing of what is asked; "owns" or "drain" does, even in a corpus that never writes it)."""
    sentences = [s for s in SENTENCE_END.split(question.strip()) if s.strip()]
    last = sentences[-1] if sentences else question
    vocabulary = asking_words()
    kept = [w for w in last.split() if not terms_of(w) or terms_of(w) & vocabulary
            or any(corpus.passage_share(t) > 0 for t in terms_of(w))]
    return " ".join(kept) if len(kept) >= 2 else last


def asked_kinds(corpus: Corpus, questions: list[str]) -> list[Asked]:
    """What each question asks for, classified by meaning in one batch against the labelled questions."""
    verdicts = classifier(QUESTION_TASK, min_margin=MIN_KIND_MARGIN).classify(
        [question_frame(corpus, q) for q in questions])
    return [Asked(v.label, KIND_SECTIONS.get(v.label, ()), FACT_FORMS.get(v.label), FACT_WEIGHTS.get(v.label, 0.0))
            if v.label else NO_KIND for v in verdicts]


def asked_kind(corpus: Corpus, question: str) -> Asked:
    return asked_kinds(corpus, [question])[0]
