"""The knowledge base as one object: ``open_kb(settings)`` wires the store, the embedding model, the keyword
index and the optional LLM once, and the shells (CLI, web UI, MCP server) use what it offers:

- search: ``search``, ``search_alert`` (the runbooks and past incidents for a firing alert), ``similar``;
- documents: ``record``, ``record_metas`` (every record's stored metadata), ``ids_of`` (the ids of a kind);
- a catalog: ``services``, ``severities``, ``known_values``, ``same_incident``, ``eligible`` (postmortems a
  game day can be built from);
- statistics: ``statistics`` (`kb stats`), ``passage_count``, ``check`` (`kb doctor`);
- what generation, runbooks, game days and ops read (``kb.retrieval.corpus.Corpus``, which this class
  implements): records, how rare a word is among the passages, embeddings.

Each part is built on first use (a command that never searches never loads the model), and every read is
current: the keyword index reloads when another process changed the store, so callers never refresh it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kb.clients.openai_client import ChatModel
from kb.clients.store import Store, open_store
from kb.core.models import Kind, RankedDocument, Record, RecordMeta
from kb.core.settings import Settings
from kb.gameday.scenario import eligible
from kb.ops.doctor import DoctorReport, check
from kb.retrieval.alerts import AlertQuery
from kb.retrieval.keyword import KeywordIndex
from kb.retrieval.meaning import embed, use_cache_dir
from kb.retrieval.onnx_model import STORE_ID, MiniLM
from kb.retrieval.relevance import measured
from kb.retrieval.search import Mode, Query, QueryEmbedder, Searcher, open_searcher
from kb.retrieval.similar import same_incident, similar

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding


@dataclass
class Statistics:
    """What the knowledge base holds (`kb stats`)."""

    documents: int
    chunks: int
    kinds: Counter[str]
    services: Counter[str]
    redactions: int
    store: str  # where the vectors live, for people
    store_mode: str  # "embedded" or "server"
    embedding_model: str


@dataclass
class AlertResults:
    """The runbooks and past incidents for a firing alert."""

    runbooks: list[RankedDocument]
    incidents: list[RankedDocument]


def services_counted(per_document: Iterable[Sequence[str]]) -> Counter[str]:
    """Documents per service, a service's spellings counted as one (filters ignore case: "CoreDNS" and "coredns"
    are one service), each under its most used spelling."""
    spellings: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    for services in per_document:
        spellings.update(services)
        counts.update({s.lower() for s in services})
    name: dict[str, str] = {}
    for spelling, _n in spellings.most_common():
        name.setdefault(spelling.lower(), spelling)
    return Counter({name[key]: n for key, n in counts.items()})


class KnowledgeBase:
    """One configured knowledge base; build it with ``open_kb``."""

    def __init__(
        self,
        settings: Settings,
        *,
        embedding: BaseEmbedding | None = None,
        store: Store | None = None,
        use_llm: bool = True,
        llm: ChatModel | None = None,
    ) -> None:
        self.settings = settings
        self._embedding = embedding
        self._store = store
        self._searcher: Searcher | None = None
        self._use_llm = use_llm
        self._llm = llm
        self._llm_made = llm is not None

    # -- the parts, wired once ----------------------------------------------------------------

    @property
    def embedding(self) -> BaseEmbedding:
        """The embedding model the settings ask for."""
        if self._embedding is None:
            from kb.retrieval.embeddings import make_embedding

            self._embedding = make_embedding(self.settings)
        return self._embedding

    @property
    def _bundled(self) -> bool:
        """Whether the bundled model embeds (the settings ask for it, and no other model was given)."""
        return self._embedding is None and self.settings.embed_backend == "onnx-minilm"

    @property
    def query_embedder(self) -> QueryEmbedder:
        """What embeds a search's query: the embedding model, or for the bundled model its runtime alone (the
        same vectors, without loading llama-index, which costs a search process seconds)."""
        return MiniLM.loaded(self.settings.embed_threads) if self._bundled else self.embedding

    @property
    def store(self) -> Store:
        """The Chroma store the settings point at (opened, and created if needed, on first use)."""
        if self._store is None:
            self._store = open_store(self.settings, self.model_id)
        return self._store

    @property
    def searcher(self) -> Searcher:
        if self._searcher is None:
            self._searcher = open_searcher(self.settings, self.store, self.query_embedder)
        return self._searcher

    @property
    def keyword(self) -> KeywordIndex:
        """The keyword index kept in step with the store (what an ingest updates along with it)."""
        return self.searcher.keyword

    @property
    def llm(self) -> ChatModel | None:
        """The configured chat model, or None: no LLM configured, or opened without one."""
        if not self._llm_made:
            self._llm_made = True
            self._llm = ChatModel(self.settings) if self._use_llm and self.settings.llm_enabled else None
        return self._llm

    def load(self) -> KnowledgeBase:
        """Open the store and the embedding model now rather than on first use."""
        _ = self.embedding, self.store
        return self

    @property
    def model_id(self) -> str:
        """The embedding model's id, as the store records it."""
        if self._bundled:
            return STORE_ID
        from kb.retrieval.embeddings import model_id

        return model_id(self.embedding)

    # -- search -------------------------------------------------------------------------------

    def search(
        self, query: Query, mode: Mode = "hybrid", passages_per_doc: int = 3, explain: bool = True
    ) -> list[RankedDocument]:
        """The best ``query.k`` documents for the query, best first, with passages and reasons (``explain``)."""
        return self.searcher.search(query, mode, passages_per_doc, explain)

    def measured(self, text: str, docs: list[RankedDocument]) -> list[RankedDocument]:
        """Search results with their word coverage measured, for a relevance label (kb.retrieval.relevance)."""
        return measured(self.keyword.covered, text, docs)

    def search_alert(self, alert: AlertQuery, k: int = 3) -> AlertResults:
        """The ``k`` best runbooks and the ``k`` best past incidents (postmortems) for a firing alert."""
        return AlertResults(
            runbooks=self.search(Query(text=alert.text, k=k, kinds=(Kind.runbook,))),
            incidents=self.search(Query(text=alert.text, k=k, kinds=(Kind.postmortem,))),
        )

    def similar(
        self, record_id: str, k: int = 5, kinds: tuple[Kind, ...] = (Kind.postmortem, Kind.chat), covering: int = 0
    ) -> list[RankedDocument]:
        """The ``k`` documents most like ``record_id``, best first, copies and the same incident left out; with
        ``covering``, that many runbooks that cover it follow (``relation='covering runbook'``)."""
        return similar(self, record_id, k, kinds, covering)

    # -- documents ----------------------------------------------------------------------------

    def record(self, record_id: str) -> Record:
        return self.store.get_record(record_id)

    def record_metas(self) -> dict[str, RecordMeta]:
        self.keyword.ensure_fresh()
        return self.keyword.record_meta

    def record_vector(self, record_id: str) -> list[float]:
        return self.store.record_vector(record_id)

    def ids_of(self, kind: Kind) -> list[str]:
        """The ids of the stored documents of one kind, sorted."""
        return sorted(rid for rid, m in self.record_metas().items() if m.kind == kind)

    # -- catalog ------------------------------------------------------------------------------

    def services(self) -> list[str]:
        """The services stored documents name, as they spell them, sorted."""
        metas = self.record_metas()
        return sorted({s for m in metas.values() for s in m.services})

    def severities(self) -> list[str]:
        """The severities stored documents declare, sorted."""
        metas = self.record_metas()
        return sorted({m.severity for m in metas.values() if m.severity})

    def known_values(self) -> dict[str, list[str]]:
        """The services (lowercase) and severities stored documents declare, for hints on filters."""
        return self.keyword.known_values()

    def same_incident(self, record: Record) -> list[str]:
        """The other documents of the same incident as ``record`` (its chat log, or its postmortem)."""
        return same_incident(self, record)

    def eligible(self, service: str | None = None, severity: str | None = None) -> list[str]:
        """Postmortems a game-day scenario can be built from, under the filters."""
        return eligible(self, service, severity)

    # -- statistics ---------------------------------------------------------------------------

    def statistics(self) -> Statistics:
        """Counts by kind and service, secrets redacted, where the store is and which model it holds."""
        records = self.store.record_index().values()
        return Statistics(
            documents=len(records),
            chunks=self.store.count_chunks(),
            kinds=Counter(m.kind.value for m in records),
            services=services_counted(m.services for m in records),
            redactions=sum(m.redactions for m in records),
            store=self.settings.store_location,
            store_mode="server" if self.settings.chroma_url else "embedded",
            embedding_model=self.model_id,
        )

    def is_empty(self) -> bool:
        """Whether no document is stored."""
        return self.store.count_records() == 0

    def passage_count(self) -> int:
        """How many passages search reads."""
        self.keyword.ensure_fresh()
        return len(self.keyword.chunk_ids)

    def check(self, repair: bool = False) -> DoctorReport:
        """The store's invariants and its keyword index checked (with ``repair``, fixed)."""
        return check(self.store, self.keyword, repair=repair)

    def reload(self) -> None:
        """Check the keyword index against the store now, rebuilding it if the store changed."""
        self.keyword.ensure_fresh(force=True)

    # -- what generation reads (kb.retrieval.corpus.Corpus) -----------------------------------

    def passage_share(self, term: str) -> float:
        return self.keyword.passage_share(term)

    def rarity(self, term: str) -> float:
        return self.keyword.rarity(term)

    def covered(self, words: set[str], found: set[str]) -> float:
        return self.keyword.covered(words, found)

    def embed_query(self, text: str) -> list[float]:
        return self.searcher.query_vector(text)  # the searcher keeps its last query vectors

    def embed_text(self, text: str) -> list[float]:
        return self.embedding.get_text_embedding(text)

    def embed_texts(self, texts: Sequence[str]) -> list[list[float]]:
        """Passages, lines and steps that answers and drafts compare: the same document's pieces come back in
        the next question, so their vectors are kept as the labelled examples' are (``meaning.embed``)."""
        return [vector.tolist() for vector in embed(texts, self.embedding, clip=None)]


def open_kb(settings: Settings, *, llm: bool = True, embedding: BaseEmbedding | None = None) -> KnowledgeBase:
    """The knowledge base the settings describe, each part opened on first use. ``llm=False`` leaves the
    configured LLM out (``--no-llm``); ``embedding`` uses an embedding model already loaded. The bundled
    model's vectors are kept in the settings' cache directory between processes."""
    use_cache_dir(settings.cache_dir if settings.embed_cache else None)
    return KnowledgeBase(settings, embedding=embedding, use_llm=llm)
