"""The BM25 side stays consistent with the store through ingest, update, prune and restarts."""

from __future__ import annotations

import json
from pathlib import Path

from ingest.pipeline import Ingestor
from kb.retrieval.keyword import KeywordIndex
from kb.retrieval.search import QUERY_VECTORS_KEPT, Query, Searcher
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


def test_a_saved_index_with_rows_of_the_wrong_shape_is_built_again(fake_kb: Ingestor, tmp_path: Path) -> None:
    """Chunks are made from the index's rows unchecked, so rows saved wrong (a text that is a number, an offset
    that is a string, a row missing) are not loaded: the index is built again from the store."""
    docs = tmp_path / "docs" / "postmortems"
    write_pm(docs, "a.md", "Checkout 502", "checkout", "KubePodCrashLooping fired for checkout", "bad env var")
    directory = tmp_path / "kw"
    fake_kb.keyword = KeywordIndex(fake_kb.store, directory)
    fake_kb.run([docs.parent])
    rows_file = directory / "rows.json"
    good = json.loads(rows_file.read_text())
    for damage in (
        lambda rows: rows["texts"].__setitem__(0, 502),
        lambda rows: rows["places"][0].__setitem__(2, "0"),
        lambda rows: rows["places"][0].__setitem__(3, 1.5),
        lambda rows: rows["chunk_ids"].pop(),
        lambda rows: rows.pop("records"),
    ):
        rows = json.loads(json.dumps(good))
        damage(rows)
        rows_file.write_text(json.dumps(rows))
        fresh = KeywordIndex(fake_kb.store, directory)
        fresh.ensure_fresh()
        assert fresh.texts == good["texts"] and fresh.chunk_ids == good["chunk_ids"], rows
        assert json.loads(rows_file.read_text()) == good  # built again from the store, and saved
        (hit,) = Searcher(fake_kb.store, fake_kb.embedding, fresh).search(Query("pod crash looping", k=1), mode="bm25")
        passage = hit.hits[0].chunk
        assert isinstance(passage.text, str) and isinstance(passage.start, int) and isinstance(passage.end, int)
        assert passage.record_id == "a"


def test_a_searcher_embeds_a_query_it_keeps_once(fake_kb: Ingestor, tmp_path: Path) -> None:
    """The same text searched again (a page rerun, `kb similar`'s passages in two pools) is not embedded again;
    only the last QUERY_VECTORS_KEPT texts are kept, and the results are the same."""
    docs = tmp_path / "docs" / "postmortems"
    write_pm(docs, "a.md", "Checkout 502", "checkout", "KubePodCrashLooping fired for checkout", "bad env var")
    write_pm(docs, "b.md", "Redis failover", "session-cache", "READONLY errors after sentinel failover", "topology")
    fake_kb.run([docs.parent])
    asked: list[str] = []

    class Counting:
        def get_query_embedding(self, query: str) -> list[float]:
            asked.append(query)
            return fake_kb.embedding.get_query_embedding(query)

    searcher = Searcher(fake_kb.store, Counting(), KeywordIndex(fake_kb.store, None))  # type: ignore[arg-type]
    first = searcher.search(Query("pod crash looping", k=2), mode="dense")
    again = searcher.search(Query("pod crash looping", k=2), mode="dense")
    assert asked == ["pod crash looping"]
    assert [(d.record.id, d.score) for d in again] == [(d.record.id, d.score) for d in first]
    for n in range(QUERY_VECTORS_KEPT):
        searcher.query_vector(f"query {n}")
    assert len(searcher._vectors) == QUERY_VECTORS_KEPT
    searcher.search(Query("pod crash looping", k=2), mode="dense")  # pushed out by the others: embedded again
    assert asked.count("pod crash looping") == 2
