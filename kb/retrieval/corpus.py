"""What the packages above retrieval read from a knowledge base, as one narrow interface.

Generation, runbooks, game days and ops take a ``Corpus`` rather than the store, the embedding model and
the keyword index: they search, read records and their stored metadata, weigh words by how many stored
passages use them, and embed texts. Every read is current: an implementation reloads what another process
ingested before it answers (``kb.KnowledgeBase`` is the implementation the shells open).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from kb.core.models import RankedDocument, Record, RecordMeta
from kb.retrieval.search import Mode, Query


class Corpus(Protocol):
    def search(
        self, query: Query, mode: Mode = "hybrid", passages_per_doc: int = 3, explain: bool = True
    ) -> list[RankedDocument]:
        """The best ``query.k`` documents for a query, best first, with passages and reasons (``explain``)."""
        ...

    def record(self, record_id: str) -> Record:
        """One stored record (``NotFound`` when there is none)."""
        ...

    def record_metas(self) -> dict[str, RecordMeta]:
        """Every stored record's metadata, by record id, as of now."""
        ...

    def record_vector(self, record_id: str) -> list[float]:
        """The mean vector of a record's chunks."""
        ...

    def passage_share(self, term: str) -> float:
        """The share of stored passages whose index text holds an analysed term."""
        ...

    def rarity(self, term: str) -> float:
        """How telling a term is: -log of its passage share (at least 0.2%)."""
        ...

    def covered(self, words: set[str], found: set[str]) -> float:
        """The share of the rarity of ``words`` that ``found`` holds."""
        ...

    def embed_query(self, text: str) -> list[float]:
        """A query's vector (the embedding model's query side)."""
        ...

    def embed_text(self, text: str) -> list[float]:
        """A passage's vector."""
        ...

    def embed_texts(self, texts: Sequence[str]) -> list[list[float]]:
        """Passages' vectors, in one batch."""
        ...
