"""Incremental, atomic ingestion into a real embedded Chroma (with the fast fake embedding)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ingest.pipeline import Ingestor
from kb.clients.store import EF_CONSTRUCTION, EF_SEARCH, open_store
from kb.core.errors import ModelMismatch, StoreBusy
from kb.core.settings import Settings
from kb.retrieval.embeddings import model_id
from kb.retrieval.keyword import KeywordIndex
from kb.retrieval.search import Query, Searcher
from tests.fakes import HashingEmbedding

PM = """---
title: {title}
date: {date}
services: [{service}]
severity: SEV2
---
# {title}
## Summary
{summary}
## Root cause
{cause}
"""


def write_pm(
    folder: Path, name: str, title: str, service: str, summary: str, cause: str, date: str = "2024-01-10"
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(PM.format(title=title, date=date, service=service, summary=summary, cause=cause))
    return path


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "docs" / "postmortems"
    write_pm(root, "a.md", "Checkout 502s", "checkout", "checkout returned 502 after deploy", "missing env var")
    write_pm(
        root,
        "b.md",
        "Redis failover",
        "session-cache",
        "users logged out after redis failover",
        "sentinel topology",
        date="2023-04-21",
    )
    write_pm(
        root, "c.md", "Kafka lag", "kafka", "deliveries delayed by consumer lag", "rebalance storm", date="2025-06-01"
    )
    return tmp_path / "docs"


def searcher(kb: Ingestor) -> Searcher:
    return Searcher(kb.store, kb.embedding, KeywordIndex(kb.store, None))


def chunk_ids(kb: Ingestor) -> list[str]:
    return kb.store._chunks.get(include=[])["ids"]


def test_first_ingest_then_unchanged_does_no_work(
    fake_kb: Ingestor, corpus: Path, fake_embedding: HashingEmbedding
) -> None:
    first = fake_kb.run([corpus])
    assert (first.added, first.updated, first.unchanged, first.failed) == (3, 0, 0, [])
    before = sorted(chunk_ids(fake_kb))
    calls = fake_embedding.texts_embedded
    again = fake_kb.run([corpus])
    assert (again.added, again.updated, again.unchanged) == (0, 0, 3)
    assert fake_embedding.texts_embedded == calls, "unchanged files must not be embedded again"
    assert sorted(chunk_ids(fake_kb)) == before


def test_changed_file_replaces_exactly_its_chunks(
    fake_kb: Ingestor, corpus: Path, fake_embedding: HashingEmbedding
) -> None:
    fake_kb.run([corpus])
    others = {c for c in chunk_ids(fake_kb) if not c.startswith("a:")}
    path = corpus / "postmortems" / "a.md"
    path.write_text(path.read_text().replace("missing env var", "a missing PAYMENTS_URL env var"))
    before = fake_embedding.texts_embedded
    report = fake_kb.run([corpus])
    assert (report.added, report.updated, report.unchanged) == (0, 1, 2)
    assert 0 < fake_embedding.texts_embedded - before < 3, "only the changed chunk text is embedded"
    assert report.reused_embeddings >= 1
    ids = set(chunk_ids(fake_kb))
    assert others <= ids
    a_chunks = [c for c in ids if c.startswith("a:")]
    record = fake_kb.store.get_record("a")
    assert a_chunks and all(c.split(":")[1] == record.content_hash[:12] for c in a_chunks)
    assert "PAYMENTS_URL" in record.text


def test_prune_removes_records_of_deleted_files(fake_kb: Ingestor, corpus: Path) -> None:
    fake_kb.run([corpus])
    (corpus / "postmortems" / "c.md").unlink()
    kept = fake_kb.run([corpus])
    assert kept.removed == 0 and fake_kb.store.count_records() == 3
    pruned = fake_kb.run([corpus], prune=True)
    assert pruned.removed == 1
    assert set(fake_kb.store.record_index()) == {"a", "b"}
    assert not [c for c in chunk_ids(fake_kb) if c.startswith("c:")]


def test_bad_files_fail_alone_and_good_ones_are_stored(fake_kb: Ingestor, corpus: Path) -> None:
    (corpus / "postmortems" / "empty.md").write_bytes(b"")
    (corpus / "postmortems" / "bin.md").write_bytes(os.urandom(2048) + b"\x00")
    report = fake_kb.run([corpus])
    assert report.added == 3
    failed = {Path(f.path).name: f.error for f in report.failed}
    assert failed.keys() == {"empty.md", "bin.md"}
    assert "empty" in failed["empty.md"] and "binary" in failed["bin.md"]


def test_same_file_name_in_two_folders_gets_two_ids(fake_kb: Ingestor, tmp_path: Path) -> None:
    write_pm(tmp_path / "x" / "postmortems", "dup.md", "One", "checkout", "first", "x")
    write_pm(tmp_path / "y" / "postmortems", "dup.md", "Two", "checkout", "second", "y")
    fake_kb.run([tmp_path / "x", tmp_path / "y"])
    assert set(fake_kb.store.record_index()) == {"dup", "dup-postmortem"}
    fake_kb.run([tmp_path / "x", tmp_path / "y"])
    assert set(fake_kb.store.record_index()) == {"dup", "dup-postmortem"}


def test_half_written_version_is_invisible_and_swept(fake_kb: Ingestor, corpus: Path) -> None:
    """Chunks written without their record commit (a killed ingest) never show up in results."""
    fake_kb.run([corpus])
    record = fake_kb.store.get_record("a")
    ghost = record.model_copy(update={"content_hash": "f" * 64, "text": "ghost text about checkout 502"})
    from kb.core.models import Chunk

    chunk = Chunk(id="a:ffffffffffff:0", record_id="a", section="summary", start=0, end=29, text=ghost.text)
    node_vec = fake_kb.embedding.get_text_embedding(ghost.text)
    # write the chunk as put_documents does, but stop before the record commit
    from llama_index.core.schema import TextNode

    from kb.clients.store_meta import chunk_metadata

    fake_kb.store.vector_store.add(
        [TextNode(id_=chunk.id, text=chunk.text, embedding=node_vec, metadata=chunk_metadata(ghost, chunk, "h"))]
    )
    results = searcher(fake_kb).search(Query("ghost text about checkout 502", k=5))
    assert all(h.chunk.id != chunk.id for d in results for h in d.hits)
    assert fake_kb.store.sweep_orphans() == 1
    assert chunk.id not in chunk_ids(fake_kb)


def test_filters_are_applied_in_the_store(fake_kb: Ingestor, corpus: Path) -> None:
    fake_kb.run([corpus])
    assert [d.record.id for d in searcher(fake_kb).search(Query("failover", k=5, services=("session-cache",)))] == ["b"]
    from datetime import date

    since = searcher(fake_kb).search(Query("checkout redis kafka", k=5, since=date(2024, 1, 1)))
    assert {d.record.id for d in since} == {"a", "c"}
    assert searcher(fake_kb).search(Query("checkout", k=5, severities=("SEV1",))) == []


def test_newest_first_shows_the_same_best_matches_by_date(fake_kb: Ingestor, corpus: Path) -> None:
    fake_kb.run([corpus])
    by_relevance = searcher(fake_kb).search(Query("checkout redis kafka failover lag", k=3))
    by_date = searcher(fake_kb).search(Query("checkout redis kafka failover lag", k=3, newest_first=True))
    assert {d.record.id for d in by_date} == {d.record.id for d in by_relevance}
    dates = [d.record.date for d in by_date]
    assert None not in dates and dates == sorted(dates, reverse=True)  # type: ignore[type-var]
    assert by_date[0].record.id == "c"  # 2025-06-01, the newest


def test_search_groups_passages_by_document_and_explains(fake_kb: Ingestor, corpus: Path) -> None:
    fake_kb.run([corpus])
    results = searcher(fake_kb).search(Query("checkout 502 after deploy", k=3))
    assert results[0].record.id == "a"
    assert len({d.record.id for d in results}) == len(results)
    assert any("checkout" in w for w in results[0].why)


def test_store_refuses_another_embedding_model(settings: Settings, fake_kb: Ingestor, corpus: Path) -> None:
    fake_kb.run([corpus])

    class Other(HashingEmbedding):
        @classmethod
        def class_name(cls) -> str:
            return "Other"

    with pytest.raises(ModelMismatch, match="built with the embedding model"):
        open_store(settings, model_id(Other()))


def test_second_writer_gets_store_busy(settings: Settings, fake_kb: Ingestor, corpus: Path) -> None:
    if settings.chroma_url:
        pytest.skip("the write lock guards an embedded store; a Chroma server orders writes itself")
    from filelock import FileLock

    lock = FileLock(str(settings.data_dir / "write.lock"))
    with lock, pytest.raises(StoreBusy, match="busy"):
        fake_kb.run([corpus])


def test_files_of_unsupported_types_are_reported_as_skipped(fake_kb: Ingestor, corpus: Path) -> None:
    (corpus / "postmortems" / "diagram.png").write_bytes(b"\x89PNG\r\n")
    report = fake_kb.run([corpus])
    assert [Path(p).name for p in report.skipped] == ["diagram.png"]
    assert report.summary()["skipped"] == report.skipped


def test_dense_filters_by_ids_and_by_where_agree(fake_kb: Ingestor, corpus: Path) -> None:
    from kb.retrieval.search import FusionParams

    fake_kb.run([corpus])
    index = KeywordIndex(fake_kb.store, None)
    by_ids = Searcher(fake_kb.store, fake_kb.embedding, index, FusionParams(max_id_filter=1_000))
    by_where = Searcher(fake_kb.store, fake_kb.embedding, index, FusionParams(max_id_filter=0))
    for query in (
        Query("failover lag checkout", k=5, services=("session-cache", "kafka")),
        Query("checkout", k=5, severities=("SEV2",)),
        Query("checkout", k=5, severities=("SEV1",)),
    ):
        ids_result = [d.record.id for d in by_ids.search(query, mode="dense")]
        where_result = [d.record.id for d in by_where.search(query, mode="dense")]
        assert ids_result == where_result
    assert [d.record.id for d in by_ids.search(Query("x", k=5, services=("session-cache", "kafka")), mode="dense")] in (
        ["b", "c"],
        ["c", "b"],
    )


def test_vector_collections_are_searched_thoroughly(settings: Settings) -> None:
    store = open_store(settings, "hashing-64")
    hnsw = store._chunks.configuration["hnsw"]
    assert (hnsw["ef_search"], hnsw["ef_construction"]) == (EF_SEARCH, EF_CONSTRUCTION)
    # a store made with Chroma's defaults gets the larger search list when it is opened
    name = store._chunks.name
    store._client.delete_collection(name)
    store._client.create_collection(name, metadata={"hnsw:space": "cosine", "embed_model": "hashing-64"})
    assert store._client.get_collection(name).configuration["hnsw"]["ef_search"] < EF_SEARCH
    assert open_store(settings, "hashing-64")._chunks.configuration["hnsw"]["ef_search"] == EF_SEARCH


def test_a_declared_service_is_not_stamped_on_documents_that_use_the_word_in_passing(
    fake_kb: Ingestor, tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    write_pm(docs / "postmortems", "mon.md", "Alert routing broke", "Monitoring", "alerts were lost", "a bad route")
    (docs / "runbooks").mkdir()
    (docs / "runbooks" / "disk.md").write_text(
        "# Disk full on the build nodes\n\nCheck the monitoring dashboard, then clean the cache.\n", encoding="utf-8"
    )
    (docs / "runbooks" / "alerts.md").write_text(
        "# Monitoring stack restarts\n\nRestart the collector.\n", encoding="utf-8"
    )
    fake_kb.run([docs])
    assert fake_kb.store.get_record("disk").services == []
    assert fake_kb.store.get_record("alerts").services == ["Monitoring"]  # named in its own title
