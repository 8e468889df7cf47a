"""How well a search result matches, in words a person can act on: strong, partial or weak.

A result's fused score says only how it ranks against the other results (1.0 is whoever came first, however
poor), so it is not shown as a relevance. The label is read from ``match``: the mean of the cosine similarity of
the query and the document's closest passage or heading (``RankedDocument.cosine``) and the rarity-weighted share
of the query's words the document's title and shown passages hold (``RankedDocument.coverage``). Both mean the
same whatever else was found. The thresholds were calibrated on the shared labelled sets (docs/search-page.md;
scripts/calibrate_relevance.py measures them again).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import StrEnum

from kb.core.models import RankedDocument
from kb.text.analysis import analyze

#: at or above: a strong match (no top result of an unanswerable question reached it on the labelled sets)
STRONG_MATCH = 0.54
#: at or above (and below strong): a partial match; below: weak (about 5% of relevant results fall there)
PARTIAL_MATCH = 0.40


class Relevance(StrEnum):
    strong = "strong match"
    partial = "partial match"
    weak = "weak match"


def match(doc: RankedDocument) -> float:
    """The quantity the label is read from, 0..1: closeness of meaning and of words, equally weighted (a document
    the dense retriever did not return counts as cosine 0; one whose words were not measured, as coverage 0)."""
    return ((doc.cosine or 0.0) + (doc.coverage or 0.0)) / 2


def relevance(doc: RankedDocument) -> Relevance:
    """The label of one result."""
    value = match(doc)
    if value >= STRONG_MATCH:
        return Relevance.strong
    return Relevance.partial if value >= PARTIAL_MATCH else Relevance.weak


#: said above results none of which is better than a weak match (a query of words the documents do not hold)
ONLY_WEAK = "Nothing matches well: every result is a weak match, the closest there is, not an answer."


def only_weak(docs: Sequence[RankedDocument]) -> bool:
    """Whether there are results and every one is a weak match."""
    return bool(docs) and all(relevance(d) == Relevance.weak for d in docs)


def measured(
    covered: Callable[[set[str], set[str]], float], text: str, docs: Sequence[RankedDocument]
) -> list[RankedDocument]:
    """``docs`` (results for the query ``text``) with their ``coverage`` measured: the rarity-weighted share of the
    query's words (``covered``: the keyword index's) that each one's title and shown passages hold. Done only where
    a label is shown: a search itself leaves it unmeasured."""
    words = set(analyze(text))
    if not words:
        return list(docs)
    return [d.model_copy(update={"coverage": covered(words, _words_of(d))}) for d in docs]


def _words_of(doc: RankedDocument) -> set[str]:
    return set(analyze(doc.record.title)).union(*(analyze(h.chunk.text) for h in doc.hits))
