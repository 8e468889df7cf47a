"""Why a document matched a query, in words: the services, alert names and error strings it shares with the
query, the query's words its shown passages hold (rarest first), and where and by which retriever it matched.
Each query word and passage is analysed once however many documents a search returns (bounded caches)."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from functools import lru_cache

from kb.core.models import Hit, RecordMeta
from kb.text.analysis import STOPWORDS, analyze, whole_term

_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*[A-Za-z0-9]|[A-Za-z0-9]")


def terms(text: str) -> list[str]:
    """Lowercase content words of a text, without stopwords (for highlighting and reasons)."""
    return [t for t in (m.group(0).lower() for m in _TOKEN.finditer(text)) if t not in STOPWORDS and len(t) > 1]


_NUMBERISH = re.compile(r"^[\d.,:/%-]+$")
_STATUS = re.compile(r"^[1-5]\d\d$")


@lru_cache(maxsize=256)
def _query_terms(text: str) -> tuple[str, ...]:
    """``terms(text)`` of a query, kept while its results' reasons are written."""
    return tuple(terms(text))


@lru_cache(maxsize=8192)
def _analyzed(text: str) -> tuple[str, ...]:
    """``analyze(text)``, kept: the reasons of one search analyse the same query words and passages for every
    document it returns, and `kb similar` runs twenty searches over much the same passages."""
    return tuple(analyze(text))


def _telling(term: str) -> bool:
    """Whether a shared word is worth naming: not a bare number, time or date (HTTP status codes are)."""
    return not _NUMBERISH.match(term) or bool(_STATUS.match(term))


def shared_terms(
    query_text: str, passage_terms: set[str], rarity: Callable[[str], float] | None = None, limit: int = 8
) -> list[str]:
    """The query's words (as typed) that the passages hold: the whole word, or every part of an
    identifier; bare numbers and times left out; the rarest in the corpus first when ``rarity`` (the share
    of passages holding a term) is given."""
    words = _query_terms(query_text)
    counts = Counter(words)
    found: list[tuple[float, int, str]] = []
    for n, word in enumerate(dict.fromkeys(words)):
        tokens = _analyzed(word)
        if not tokens or not _telling(word):
            continue
        if tokens[0] in passage_terms or set(tokens) <= passage_terms:
            # weight: how often the query says it, times how rare it is (a long query's few repeated,
            # specific words first; a short query's words keep their order)
            weight = counts[word] * -math.log(max(rarity(tokens[0]), 1e-4)) if rarity else 0.0
            found.append((-weight, n, word))
    return [word for _, _, word in sorted(found)[:limit]]


def why_matched(
    query_text: str,
    meta: RecordMeta,
    hits: Sequence[Hit],
    shown: Sequence[Hit],
    rarity: Callable[[str], float] | None = None,
) -> list[str]:
    """Human reasons: shared services, alert names, error strings, the words the shown passages share
    (rarest first with ``rarity``), and where and by which retriever the document matched."""
    reasons: list[str] = []
    lowered = query_text.lower()
    q_terms = set(_analyzed(query_text))
    services = [s for s in meta.services if s.lower() in lowered]
    if services:
        reasons.append("same service: " + ", ".join(services))
    named = [a for a in meta.alerts if a.lower() in lowered or (set(analyze(a)) - {whole_term(a)}) <= q_terms]
    if named:
        reasons.append("alert: " + ", ".join(named[:3]))
    errors = [e for e in meta.errors if e.lower() in lowered]
    if errors:
        reasons.append("error: " + ", ".join(errors[:3]))
    passage_terms = {t for h in shown for t in _analyzed(h.chunk.text)} | set(_analyzed(meta.title))
    already = {x.lower() for x in (*services, *named, *errors)}
    shared = [t for t in shared_terms(query_text, passage_terms, rarity, 8 + len(already)) if t not in already][:8]
    if shared:
        reasons.append("shares terms: " + ", ".join(shared[:8]))
    retrievers = sorted({h.retriever for h in hits})
    if hits:
        sections = list(dict.fromkeys(h.chunk.section for h in hits))
        reasons.append("matched in: " + ", ".join(sections[:4]) + f" ({' + '.join(retrievers)})")
    return reasons
