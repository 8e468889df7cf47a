"""Titles and headings as a field of their own, and a query searched by what it is (typed words or a whole
document)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ingest.pipeline import Ingestor
from kb.retrieval.headings import WEIGHT, HeadingVectors
from kb.retrieval.keyword import KeywordIndex
from kb.retrieval.search import WHOLE_DOCUMENT_WORDS, Query, Searcher, query_words
from kb.text.analysis import AnalyzerOptions, analyze
from tests.fakes import HashingEmbedding
from tests.test_pipeline import write_pm


def test_identifiers_can_be_searched_whole_only() -> None:
    assert analyze("KubePodCrashLooping pods") == ["kubepodcrashloop", "kube", "pod", "crash", "loop", "pod"]
    whole = AnalyzerOptions(identifier_parts=False)
    assert analyze("KubePodCrashLooping pods on node_filesystem", whole) == [
        "kubepodcrashloop",
        "pod",
        "nodefilesystem",
    ]


def test_heading_vectors_reuse_earlier_vectors_and_return_one_chunk_per_heading_of_a_document() -> None:
    calls: list[list[str]] = []

    def embed(texts: list[str]) -> list[list[float]]:
        calls.append(texts)
        return [[1.0, 0.0] if "lag" in t else [0.0, 1.0] for t in texts]

    first = HeadingVectors.build(["DB\nReplica lag", "DB\nReplica lag", "DB\nBackups"], embed)
    assert calls == [["DB\nReplica lag", "DB\nBackups"]] and list(first.of_chunk) == [0, 0, 1]
    again = HeadingVectors.build(["DB\nBackups", "Web\nLatency lag"], embed, first)
    assert calls[-1] == ["Web\nLatency lag"] and np.allclose(again.vectors[0], [0.0, 1.0])

    record_of = np.array([0, 0, 0])
    found = first.search([1.0, 0.0], 10, record_of, None)
    assert [p for p, _s in found] == [0, 2]  # the second chunk of "Replica lag" is not repeated
    assert np.allclose([s for _p, s in found], [WEIGHT, 0.0])
    assert first.search([1.0, 0.0], 10, record_of, np.array([0.0, 0.0, 0.0], dtype=np.float32)) == []


def test_a_whole_document_weighs_bm25_more_and_a_typed_search_does_not(fake_kb: Ingestor) -> None:
    searcher = Searcher(fake_kb.store, fake_kb.embedding, KeywordIndex(fake_kb.store, None))
    assert query_words("checkout pods OOMKilled after deploy") == 5
    assert searcher.weights("checkout pods OOMKilled after deploy") == (1.0, 1.0)
    document = " ".join(["word"] * 300)
    assert query_words(document) > WHOLE_DOCUMENT_WORDS
    dense, bm25 = searcher.weights(document)
    assert dense == 1.0 and bm25 == 6.0


def test_a_section_is_found_by_its_heading_in_both_retrievers(fake_kb: Ingestor, tmp_path: Path) -> None:
    docs = tmp_path / "docs" / "postmortems"
    write_pm(docs, "a.md", "Standby replication lagging", "db", "the standby fell behind the primary", "slow disk")
    write_pm(docs, "b.md", "Checkout errors", "checkout", "checkout failed; a replica was mentioned once", "bug")
    embedding = HashingEmbedding()
    index = KeywordIndex(fake_kb.store, tmp_path / "kw", embed=embedding.get_text_embedding_batch)
    fake_kb.keyword = index
    fake_kb.run([docs.parent])
    assert len(index.headings) > 0
    searcher = Searcher(fake_kb.store, embedding, index)
    for mode in ("dense", "bm25", "hybrid"):
        top = searcher.search(Query("standby replication lagging", k=2), mode=mode)  # type: ignore[arg-type]
        assert top[0].record.id == "a", mode

    # a new process with the embedding model loads the saved vectors; one without it needs none
    fresh = KeywordIndex(fake_kb.store, tmp_path / "kw", embed=embedding.get_text_embedding_batch)
    rebuilt: list[str] = []
    fresh._build = lambda version: rebuilt.append(version)  # type: ignore[method-assign]
    fresh.ensure_fresh()
    assert rebuilt == [] and np.allclose(fresh.headings.vectors, index.headings.vectors)
    plain = KeywordIndex(fake_kb.store, tmp_path / "kw")
    plain.ensure_fresh()
    assert plain.search("standby replication", 2)[0].position in {
        i for i, rid in enumerate(plain.record_of) if plain.records[rid] == "a"
    }


def test_a_rebuild_in_a_new_process_embeds_only_the_headings_it_lacks(fake_kb: Ingestor, tmp_path: Path) -> None:
    docs = tmp_path / "docs" / "postmortems"
    write_pm(docs, "a.md", "Standby replication lagging", "db", "the standby fell behind", "slow disk")
    embedding = HashingEmbedding()
    first = KeywordIndex(fake_kb.store, tmp_path / "kw", embed=embedding.get_text_embedding_batch, embed_model="h")
    fake_kb.keyword = first
    fake_kb.run([docs.parent])
    write_pm(docs, "b.md", "Checkout errors", "checkout", "checkout failed", "bug")
    Ingestor(fake_kb.settings, fake_kb.store, fake_kb.embedding).run([docs.parent])  # a writer with no snapshot

    asked: list[str] = []

    def embed(texts: list[str]) -> list[list[float]]:
        asked.extend(texts)
        return embedding.get_text_embedding_batch(texts)

    later = KeywordIndex(fake_kb.store, tmp_path / "kw", embed=embed, embed_model="h")
    later.ensure_fresh()
    assert asked and all(t.startswith("Checkout errors") for t in asked)
    assert len(later.headings) == len(first.headings) + len(asked)
    other_model = KeywordIndex(fake_kb.store, tmp_path / "kw", embed=embed, embed_model="another")
    asked.clear()
    other_model.rebuild()
    assert any(t.startswith("Standby replication") for t in asked)  # another model's vectors are not reused
