"""The BM25 side stays consistent with the store through ingest, update, prune and restarts."""

from __future__ import annotations

from pathlib import Path

from ingest.pipeline import Ingestor
from kb.retrieval.keyword import KeywordIndex
from kb.retrieval.search import Query, Searcher
from tests.test_pipeline import write_pm


def test_keyword_index_follows_updates_prunes_and_survives_restarts(fake_kb: Ingestor, tmp_path: Path) -> None:
    docs = tmp_path / "docs" / "postmortems"
    write_pm(docs, "a.md", "Checkout 502", "checkout", "KubePodCrashLooping fired for checkout", "bad env var")
    write_pm(docs, "b.md", "Redis failover", "session-cache", "READONLY errors after sentinel failover", "topology")
    directory = tmp_path / "kw"
    index = KeywordIndex(fake_kb.store, directory, refresh_s=0)  # checks the store version on every query
    fake_kb.keyword = index
    fake_kb.run([docs.parent])
    searcher = Searcher(fake_kb.store, fake_kb.embedding, index)
    top = searcher.search(Query("pod crash looping", k=2), mode="bm25")
    assert top[0].record.id == "a"
    built = index.version

    # a new process loads the saved index instead of rebuilding
    fresh = KeywordIndex(fake_kb.store, directory)
    loaded: list[str] = []
    fresh._build = lambda version: loaded.append("rebuilt")  # type: ignore[method-assign]
    fresh.ensure_fresh()
    assert loaded == [] and fresh.version == built and fresh.chunk_ids == index.chunk_ids

    # an update by another writer is seen without restarting
    (docs / "a.md").write_text((docs / "a.md").read_text().replace("KubePodCrashLooping", "OOMKilled"))
    other = Ingestor(fake_kb.settings, fake_kb.store, fake_kb.embedding)  # no keyword index: like another process
    other.run([docs.parent])
    assert searcher.search(Query("crash looping", k=2), mode="bm25") == []
    assert searcher.search(Query("OOMKilled", k=2), mode="bm25")[0].record.id == "a"

    (docs / "b.md").unlink()
    other.run([docs.parent], prune=True)
    assert [d.record.id for d in searcher.search(Query("sentinel failover READONLY", k=2), mode="bm25")] == []


def test_keyword_filters_use_record_metadata(fake_kb: Ingestor, tmp_path: Path) -> None:
    docs = tmp_path / "docs" / "postmortems"
    write_pm(docs, "a.md", "Checkout 502", "checkout", "deploy broke checkout", "x", date="2023-01-01")
    write_pm(docs, "b.md", "Checkout again", "checkout", "deploy broke checkout again", "y", date="2025-01-01")
    fake_kb.run([docs.parent])
    searcher = Searcher(fake_kb.store, fake_kb.embedding, KeywordIndex(fake_kb.store, None))
    from datetime import date

    got = searcher.search(Query("deploy broke checkout", k=5, since=date(2024, 1, 1)), mode="bm25")
    assert [d.record.id for d in got] == ["b"]
    assert searcher.search(Query("deploy broke checkout", k=5, services=("kafka",)), mode="bm25") == []


def test_a_service_name_typed_as_separate_words_matches_the_name(fake_kb: Ingestor, tmp_path: Path) -> None:
    docs = tmp_path / "docs" / "postmortems"
    write_pm(docs, "a.md", "Gateway timeouts", "payments-gateway", "payments-gateway timed out", "slow provider")
    write_pm(docs, "b.md", "Payments page", "checkout", "the payments page and the api gateway were slow", "cdn")
    fake_kb.run([docs.parent])
    index = KeywordIndex(fake_kb.store, None)
    index.ensure_fresh()
    assert index.service_tokens("who owns the payments gateway?") == ["paymentsgateway"]
    assert index.service_tokens("Payments Gateway") == ["paymentsgateway"]
    assert index.service_tokens("payments then gateway") == []
    top = Searcher(fake_kb.store, fake_kb.embedding, index).search(Query("payments gateway slow", k=2), mode="bm25")
    assert top[0].record.id == "a"
