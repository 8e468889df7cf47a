from __future__ import annotations

from pathlib import Path

from ingest.pipeline import Ingestor
from kb.keyword import KeywordIndex
from kb.search import Searcher
from kb.similar import similar
from tests.test_pipeline import write_pm


def test_similar_excludes_itself_and_collapses_copies(fake_kb: Ingestor, tmp_path: Path) -> None:
    docs = tmp_path / "docs" / "postmortems"
    write_pm(
        docs,
        "redis-2023.md",
        "Sentinel failover logged users out",
        "session-cache",
        "users logged out after a redis sentinel failover READONLY errors",
        "clients pinned to the old primary",
    )
    write_pm(
        docs,
        "redis-2025.md",
        "Sentinel failover again",
        "session-cache",
        "READONLY errors and logouts after redis sentinel failover during an upgrade",
        "stale connections",
    )
    # the same 2025 postmortem kept twice (say, exported to a second folder)
    copy = tmp_path / "docs" / "exports" / "postmortems"
    write_pm(
        copy,
        "redis-2025-export.md",
        "Sentinel failover again",
        "session-cache",
        "READONLY errors and logouts after redis sentinel failover during an upgrade",
        "stale connections",
    )
    write_pm(docs, "kafka.md", "Kafka lag", "kafka", "consumer lag delayed deliveries", "rebalance storm")
    fake_kb.run([tmp_path / "docs"])
    searcher = Searcher(fake_kb.store, fake_kb.embedding, KeywordIndex(fake_kb.store, None))

    from_2023 = similar(searcher, "redis-2023", k=3)
    ids = [d.record.id for d in from_2023]
    assert "redis-2023" not in ids
    assert ids[0] in {"redis-2025", "redis-2025-export"}
    assert not {"redis-2025", "redis-2025-export"} <= set(ids), "copies must be collapsed into one result"
    assert any("also stored as" in w for w in from_2023[0].why)

    from_2025 = [d.record.id for d in similar(searcher, "redis-2025", k=3)]
    assert "redis-2025-export" not in from_2025 and "redis-2025" not in from_2025
    assert from_2025[0] == "redis-2023"
