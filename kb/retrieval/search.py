"""Search that returns documents, not chunks: hybrid retrieval, grouped by record, with reasons.

Two retrievers over the same chunks: dense (Chroma ANN on the embedding model's vectors) and keyword
(BM25 with the SRE analyzer, ``kb.retrieval.keyword``). Filters are applied inside each (Chroma ``where``, a BM25
weight mask). Each retriever's passages are grouped into documents (a document scores by its best
passage), the two document rankings are fused by reciprocal rank (ties broken by the retrievers'
standardized scores), and passages of versions that are being replaced are dropped. Each document says
why it matched: the services, alert names, error strings and query words its passages share.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal, Protocol

from kb.clients.store import Store
from kb.clients.store_meta import SearchFilters
from kb.core.models import Hit, Kind, RankedDocument, RecordMeta, RecordSummary
from kb.core.settings import Settings
from kb.retrieval.filler import arrange, shown_redirect
from kb.retrieval.keyword import KeywordIndex
from kb.retrieval.reasons import why_matched
from kb.retrieval.relevance import relevance
from kb.retrieval.windows import windows
from kb.text.analysis import count_tokens

Mode = Literal["hybrid", "bm25", "dense"]
#: a search or a question reads this much of its text: a pasted alert or log excerpt fits, a pasted file is cut
#: (the dense side reads at most about 1,200 words of it, ``kb.retrieval.windows``), so analysing a query stays bounded
MAX_QUERY_CHARS = 8_000
#: a query of more words than this is a whole document (`kb similar`, a pasted report), not a search typed or
#: an alert pasted (the labelled alerts, descriptions and questions have at most 78 words, the documents 79-1,188)
WHOLE_DOCUMENT_WORDS = 100
#: BM25's weight in the fusion grows by one for every this many words of a long query: the embedding model
#: reads a query's first 256 word pieces, BM25 all of it (chosen before the dense side read a long query in
#: windows; docs/retrieval.md)
WORDS_PER_BM25_WEIGHT = 50
#: query vectors a searcher keeps (a page rerun, `kb similar`'s passages searched in two pools, the same alert
#: searched for runbooks and for incidents): a few hundred KB at most
QUERY_VECTORS_KEPT = 256


def query_words(text: str) -> int:
    """How many words (identifiers counted once) a query has: what decides how it is searched."""
    return count_tokens(text)


def bounded_query(text: str) -> str:
    """The part of a query's text that is read: its first ``MAX_QUERY_CHARS`` characters."""
    return text[:MAX_QUERY_CHARS]


class QueryEmbedder(Protocol):
    """What search asks of an embedding model: a query's vector (a llama-index ``BaseEmbedding`` is one; so is
    the bundled model's runtime, ``kb.retrieval.onnx_model.MiniLM``, which a search loads without llama-index)."""

    model_name: str

    def get_query_embedding(self, query: str) -> list[float]: ...

    def get_text_embedding_batch(self, texts: list[str]) -> list[list[float]]: ...


@dataclass(frozen=True)
class Query:
    """A search request."""

    text: str
    k: int = 10
    kinds: tuple[Kind, ...] = ()
    services: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    since: date | None = None
    until: date | None = None
    exclude: tuple[str, ...] = ()  # record ids left out (a document's own id in "similar")
    newest_first: bool = False  # the k best matches, shown newest first (undated documents last)

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", bounded_query(self.text))

    def filters(self) -> SearchFilters:
        return SearchFilters(
            kinds=tuple(k.value for k in self.kinds),
            services=tuple(s.lower() for s in self.services),
            severities=tuple(s.upper() for s in self.severities),
            since=self.since,
            until=self.until,
        )


@dataclass
class FusionParams:
    """How the two rankings are combined; defaults measured on the labelled sets (docs/retrieval.md)."""

    rrf_k: float = 60.0
    dense_weight: float = 1.0
    bm25_weight: float = 1.0
    candidates: int = 200  # passages fetched from each retriever
    max_id_filter: int = 20_000  # filters matching fewer chunks are passed to Chroma as ids


@dataclass
class _Doc:
    score: float = 0.0
    hits: list[Hit] = field(default_factory=list)


def _group(hits: list[Hit]) -> list[tuple[str, _Doc]]:
    docs: dict[str, _Doc] = {}
    for hit in hits:
        doc = docs.setdefault(hit.chunk.record_id, _Doc(score=hit.score))
        doc.score = max(doc.score, hit.score)
        doc.hits.append(hit)
    return sorted(docs.items(), key=lambda kv: -kv[1].score)


def _standardized(ranking: list[tuple[str, _Doc]]) -> tuple[dict[str, float], float]:
    """Each document's score in standard deviations from the ranking's mean, and the lowest such value
    (for documents the ranking did not return)."""
    values = [doc.score for _rid, doc in ranking]
    if not values:
        return {}, 0.0
    mean = sum(values) / len(values)
    std = (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5 or 1.0
    z = {rid: (doc.score - mean) / std for rid, doc in ranking}
    return z, min(z.values())


def fuse(
    rankings: Sequence[tuple[float, list[tuple[str, _Doc]]]],
    rrf_k: float = 60.0,
    exclude: Sequence[str] = (),
    reciprocal: bool = True,
) -> list[tuple[str, float, list[Hit]]]:
    """(record id, score, passages) best first from weighted document rankings.

    With ``reciprocal``, reciprocal-rank fusion scaled so 1.0 means ranked first by every retriever;
    otherwise the documents' own scores summed (one ranking: its order). Rank fusion ties often (first
    in one ranking and second in the other, or the reverse); a tie is broken by the sum of the
    documents' standardized retriever scores (each ranking's scores in standard deviations from its
    mean), so the document the retrievers are more confident about comes first.
    """
    fused: dict[str, float] = {}
    passages: dict[str, list[Hit]] = {}
    evidence: dict[str, float] = {}
    kept = [(weight, [(rid, doc) for rid, doc in ranking if rid not in exclude]) for weight, ranking in rankings]
    for weight, ranking in kept:
        for rank, (rid, doc) in enumerate(ranking, start=1):
            score = weight / (rrf_k + rank) if reciprocal else doc.score
            fused[rid] = fused.get(rid, 0.0) + score
            passages.setdefault(rid, []).extend(doc.hits)
    if reciprocal and kept:
        best = sum(w for w, _r in kept) / (rrf_k + 1)
        fused = {rid: score / best for rid, score in fused.items()}
        for _weight, ranking in kept:
            z, floor = _standardized(ranking)
            for rid in fused:
                evidence[rid] = evidence.get(rid, 0.0) + z.get(rid, floor)
    ordered = sorted(fused, key=lambda rid: (-round(fused[rid], 9), -evidence.get(rid, 0.0)))
    return [(rid, fused[rid], passages[rid]) for rid in ordered]


class Searcher:
    """Hybrid search over one store; holds the embedding model and the keyword index."""

    def __init__(
        self, store: Store, embedding: QueryEmbedder, keyword: KeywordIndex, params: FusionParams | None = None
    ) -> None:
        self.store = store
        self.embedding = embedding
        self.keyword = keyword
        self.params = params or FusionParams()
        self._vectors: OrderedDict[str, list[float]] = OrderedDict()  # the last query vectors, newest last
        self._vectors_lock = threading.Lock()

    def query_vector(self, text: str) -> list[float]:
        """The embedding model's vector for a query text, kept for the next ``QUERY_VECTORS_KEPT`` other texts."""
        with self._vectors_lock:
            if text in self._vectors:
                self._vectors.move_to_end(text)
                return self._vectors[text]
        vector = self.embedding.get_query_embedding(text)
        with self._vectors_lock:
            self._vectors[text] = vector
            while len(self._vectors) > QUERY_VECTORS_KEPT:
                self._vectors.popitem(last=False)
        return vector

    def dense_hits(self, text: str, n: int, filters: SearchFilters) -> list[Hit]:
        """The passages nearest the query, and the first passage of each section whose title and heading are
        (a document then scores by the better of its best passage and its best heading). A whole document is
        also read in windows (``kb.retrieval.windows``): each passage and heading scores by its closest one."""
        index = self.keyword
        # a selective filter: search among the matching chunk ids, much faster than a `where` clause
        within = index.allowed_ids(filters, self.params.max_id_filter) if filters != SearchFilters() else None
        mask = index.mask(filters)
        texts = [text, *(windows(text) if query_words(text) > WHOLE_DOCUMENT_WORDS else ())]
        passages: dict[int, float] = {}
        headings: dict[int, float] = {}
        for window in texts:
            vector = self.query_vector(window)
            for chunk_id, score in self.store.query(vector, n, filters, within):
                position = index.position.get(chunk_id)
                if position is not None:  # unknown: written after this snapshot; it joins on the next refresh
                    passages[position] = max(score, passages.get(position, score))
            for position, score in index.headings.search(vector, n, index.record_of, mask):
                headings[position] = max(score, headings.get(position, score))
        return [
            Hit(chunk=index.chunk(position), score=score, retriever="dense")
            for found in (passages, headings)
            for position, score in sorted(found.items(), key=lambda kv: -kv[1])  # one window: already in order
        ]

    def keyword_hits(self, text: str, n: int, filters: SearchFilters) -> list[Hit]:
        """BM25's passages; a whole document's identifiers are searched whole (their common parts, "kube",
        "pod", "error", drown its telling words: MRR@10 0.44 against 0.67 on the labelled documents)."""
        index = self.keyword
        whole = query_words(text) > WHOLE_DOCUMENT_WORDS
        found = index.search(text, n, filters, whole_identifiers=whole)
        return [Hit(chunk=index.chunk(h.position), score=h.score, retriever="bm25") for h in found]

    def weights(self, text: str) -> tuple[float, float]:
        """(dense, BM25) weights for a query: equal for a typed search, a pasted alert or a question; BM25
        weighs more the longer a query grows beyond what the embedding model reads."""
        bm25 = max(1.0, query_words(text) / WORDS_PER_BM25_WEIGHT)
        return self.params.dense_weight, self.params.bm25_weight * bm25

    def rank(self, query: Query, mode: Mode = "hybrid") -> list[tuple[str, float, list[Hit]]]:
        """(record id, fused score, passages) best first."""
        self.keyword.ensure_fresh()
        filters = query.filters()
        n = max(self.params.candidates, query.k * 10)
        rankings: list[tuple[float, list[tuple[str, _Doc]]]] = []
        dense_weight, bm25_weight = self.weights(query.text)
        if mode in ("hybrid", "dense"):
            rankings.append((dense_weight, _group(self.dense_hits(query.text, n, filters))))
        if mode in ("hybrid", "bm25"):
            rankings.append((bm25_weight, _group(self.keyword_hits(query.text, n, filters))))
        fused = fuse(rankings, self.params.rrf_k, query.exclude, reciprocal=mode == "hybrid")
        return arrange(fused, self.keyword.record_meta)  # filler (kb.retrieval.filler) after content

    def search(
        self, query: Query, mode: Mode = "hybrid", passages_per_doc: int = 3, explain: bool = True
    ) -> list[RankedDocument]:
        """The best ``query.k`` documents for the query, best first, with passages and reasons (none without
        ``explain``: a caller that shows few of the documents works those out for them alone)."""
        if not query.text.strip():
            return []
        ranked = self.rank(query, mode)[: query.k]
        metas = self.keyword.record_meta
        results: list[RankedDocument] = []
        for rid, score, hits in ranked:
            meta = metas.get(rid)
            if meta is None:
                continue
            shown = _best_passages(hits, passages_per_doc)
            results.append(
                RankedDocument(
                    record=summary_of(meta, shown_redirect(meta, metas)),
                    score=score,
                    hits=shown,
                    why=why_matched(query.text, meta, hits, shown, self.keyword.passage_share) if explain else [],
                    cosine=max((h.score for h in hits if h.retriever == "dense"), default=None),
                )
            )
        if query.newest_first:
            results = newest_first(results)
        return results


def newest_first(results: Sequence[RankedDocument]) -> list[RankedDocument]:
    """The same documents, newest first; undated ones keep their relevance order after the dated ones."""
    dated = sorted((d for d in results if d.record.date), key=lambda d: d.record.date or date.min, reverse=True)
    return dated + [d for d in results if not d.record.date]


def keyword_dir(settings: Settings) -> Path:
    """Where the keyword index of the configured store is saved."""
    if settings.chroma_url:
        name = re.sub(r"[^A-Za-z0-9]+", "_", settings.chroma_url).strip("_")
        return settings.data_dir / "keyword" / f"{name}-{settings.collection_prefix}"
    return settings.data_dir / "keyword" / settings.collection_prefix


def open_searcher(
    settings: Settings, store: Store, embedding: QueryEmbedder, params: FusionParams | None = None
) -> Searcher:
    """A searcher whose keyword index is saved next to the store (or in the local data dir)."""
    embed = embedding.get_text_embedding_batch
    keyword = KeywordIndex(store, keyword_dir(settings), embed=embed, embed_model=embedding.model_name)
    return Searcher(store, embedding, keyword, params)


def _best_passages(hits: Sequence[Hit], limit: int) -> list[Hit]:
    """One entry per passage (a passage both retrievers found is marked 'hybrid'), best first."""
    by_id: dict[str, Hit] = {}
    order: list[str] = []
    for hit in hits:
        if hit.chunk.id in by_id:
            if by_id[hit.chunk.id].retriever != hit.retriever:  # found by both (a heading hit repeats dense)
                by_id[hit.chunk.id] = by_id[hit.chunk.id].model_copy(update={"retriever": "hybrid"})
            continue
        by_id[hit.chunk.id] = hit
        order.append(hit.chunk.id)
    # dense hits come first in `hits` for each doc; keep retriever order, which is rank order
    return [by_id[cid] for cid in order][:limit]


def summary_of(meta: RecordMeta, redirect: str = "") -> RecordSummary:
    return RecordSummary(
        filler=meta.filler,
        redirect=redirect or meta.redirect,
        id=meta.id,
        kind=meta.kind,
        title=meta.title,
        services=meta.services,
        severity=meta.severity,
        date=meta.date,
        source_path=meta.source_path,
    )


def result_json(d: RankedDocument, labelled: bool = False) -> dict[str, object]:
    """One result as JSON (what `kb search --json` and the MCP tools return); ``labelled``: with its match label
    ("strong match", "partial match", "weak match": kb.retrieval.relevance) under "match", for results whose
    coverage was measured."""
    return {
        **({"match": relevance(d).value} if labelled else {}),
        "id": d.record.id,
        "title": d.record.title,
        "kind": d.record.kind.value,
        "score": round(d.score, 4),
        "services": d.record.services,
        "severity": d.record.severity,
        "date": d.record.date.isoformat() if d.record.date else None,
        "why": d.why,
        **({"filler": d.record.filler, "redirect": d.record.redirect} if d.record.filler else {}),
        "passages": [
            {
                "text": h.chunk.text,
                "section": h.chunk.section,
                "start": h.chunk.start,
                "end": h.chunk.end,
                "score": round(h.score, 4),
                "retriever": h.retriever,
            }
            for h in d.hits
        ],
    }
