from __future__ import annotations

from pathlib import Path

from ingest.pipeline import Ingestor
from kb.core.models import Kind
from kb.knowledge import KnowledgeBase
from kb.retrieval.reasons import shared_terms
from kb.retrieval.similar import passages, query_text, same_incident, similar
from kb.text.analysis import analyze
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
    searcher = KnowledgeBase(fake_kb.settings, embedding=fake_kb.embedding, store=fake_kb.store)

    from_2023 = similar(searcher, "redis-2023", k=3)
    ids = [d.record.id for d in from_2023]
    assert "redis-2023" not in ids
    assert ids[0] in {"redis-2025", "redis-2025-export"}
    assert not {"redis-2025", "redis-2025-export"} <= set(ids), "copies must be collapsed into one result"
    assert any("also stored as" in w for w in from_2023[0].why)

    shown = [d.score for d in from_2023]  # the score shown is the one ranked by: it falls down the list
    assert shown[0] == 1.0 and shown == sorted(shown, reverse=True)

    from_2025 = [d.record.id for d in similar(searcher, "redis-2025", k=3)]
    assert "redis-2025-export" not in from_2025 and "redis-2025" not in from_2025
    assert from_2025[0] == "redis-2023"


def test_the_same_incident_in_another_form_is_left_out(fake_kb: Ingestor, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    write_pm(
        docs / "postmortems",
        "redis-2025.md",
        "Sentinel failover logged users out",
        "session-cache",
        "READONLY errors and logouts after a redis sentinel failover",
        "clients pinned to the old primary",
        date="2025-01-08",
    )
    write_pm(
        docs / "postmortems",
        "redis-2023.md",
        "Redis failover",
        "session-cache",
        "users logged out after a redis failover, READONLY errors",
        "sentinel topology",
        date="2023-04-21",
    )
    (docs / "chats").mkdir()
    (docs / "chats" / "2025-01-08-session-cache.txt").write_text(
        "[2025-01-08 09:01:00] zed: session-cache READONLY errors, users logged out after the sentinel failover\n"
        "[2025-01-08 09:03:00] amy: clients still pinned to the old primary, restarting auth\n"
        "[2025-01-08 09:20:00] zed: resolved\n",
        encoding="utf-8",
    )
    fake_kb.run([docs])
    searcher = KnowledgeBase(fake_kb.settings, embedding=fake_kb.embedding, store=fake_kb.store)
    chat = searcher.store.get_record("2025-01-08-session-cache")
    assert same_incident(searcher, chat) == ["redis-2025"]
    assert same_incident(searcher, searcher.store.get_record("redis-2025")) == ["2025-01-08-session-cache"]
    assert same_incident(searcher, searcher.store.get_record("redis-2023")) == []

    text = query_text(chat)
    assert "zed" not in text and "09:01" not in text and "READONLY errors" in text
    assert [d.record.id for d in similar(searcher, chat.id, k=3)] == ["redis-2023"]


def test_reasons_name_whole_words_not_numbers_or_stray_parts() -> None:
    passage = set(analyze("Envoy returned 503 for checkout-api at 16:05; the inc channel was busy"))
    shared = shared_terms("inc-edge-503 envoy 16:05 2025-05-27 503 checkout-api", passage)
    assert shared == ["envoy", "503", "checkout-api"]
    rare = {"envoy": 0.01, "checkout": 0.4}
    assert shared_terms("checkout checkout envoy", set(analyze("envoy checkout")), lambda t: rare.get(t, 0.5)) == [
        "envoy",
        "checkout",
    ]


def _runbook(folder: Path, name: str, title: str, body: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(f"# {title}\n\n## Symptoms\n{body}\n\n## Mitigation\n{body}\n", encoding="utf-8")


def test_the_runbooks_that_cover_an_incident_come_with_it_marked_as_such(fake_kb: Ingestor, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    write_pm(
        docs / "postmortems",
        "redis-2023.md",
        "Sentinel failover logged users out",
        "session-cache",
        "users logged out after a redis sentinel failover READONLY errors",
        "clients pinned to the old primary after the failover",
    )
    write_pm(
        docs / "postmortems",
        "redis-2025.md",
        "Sentinel failover again",
        "session-cache",
        "READONLY errors and logouts after redis sentinel failover during an upgrade",
        "stale connections to the old primary",
    )
    write_pm(docs / "postmortems", "kafka.md", "Kafka lag", "kafka", "consumer lag delayed deliveries", "rebalance storm")
    _runbook(
        docs / "runbooks",
        "sentinel.md",
        "Redis sentinel failover",
        "READONLY errors after a sentinel failover: clients pinned to the old primary; restart the clients",
    )
    _runbook(docs / "runbooks", "lag.md", "Kafka consumer lag", "consumer lag grows; add partitions, rebalance")
    fake_kb.run([docs])
    kb = KnowledgeBase(fake_kb.settings, embedding=fake_kb.embedding, store=fake_kb.store)

    mixed = similar(kb, "redis-2023", k=3, kinds=(Kind.postmortem, Kind.runbook))
    assert [(d.record.id, d.relation) for d in mixed[:2]] == [
        ("redis-2025", "similar incident"),
        ("sentinel", "covering runbook"),  # second: a runbook is not crowded out by incident reports
    ]
    assert "a runbook that covers this incident" in mixed[1].why

    default = similar(kb, "redis-2023", k=2, covering=1)
    assert [d.record.kind for d in default[:-1]] == [Kind.postmortem] * (len(default) - 1)
    assert (default[-1].record.id, default[-1].relation) == ("sentinel", "covering runbook")
    assert "sentinel" not in [d.record.id for d in similar(kb, "redis-2023", k=2)]  # not asked for


def test_passages_are_cut_at_paragraphs_and_list_items() -> None:
    from kb.core.models import Record, Section

    words = " ".join(f"w{i}" for i in range(60))
    text = f"{words}\n- first item {words}\n\nlast paragraph"
    record = Record(
        id="x", kind=Kind.postmortem, title="x", source_path="x.md", source_key="x.md", format="markdown",
        content_hash="h", text=text, sections=[Section(name="body", heading="", start=0, end=len(text))],
    )
    found = passages(record)
    assert len(found) == 2 and found[0].endswith("first item " + words) and found[1] == "last paragraph"


def test_kb_similar_lists_the_covering_runbooks_under_their_own_heading() -> None:
    from kb.core.models import RankedDocument, RecordSummary
    from ui.cli import render

    def doc(rid: str, kind: Kind, relation: str) -> RankedDocument:
        return RankedDocument(record=RecordSummary(id=rid, kind=kind, title=rid.title()), score=0.5, relation=relation)

    shown = render.similar_results([
        doc("redis-2025", Kind.postmortem, "similar incident"),
        doc("sentinel", Kind.runbook, "covering runbook"),
        doc("kafka", Kind.postmortem, "similar incident"),
    ])
    incidents, _, runbooks = shown.partition("Runbooks that cover this incident:")
    assert "Redis-2025" in incidents and "Kafka" in incidents and "Sentinel" not in incidents
    assert "Sentinel" in runbooks and "covering runbook" in runbooks
    assert render.similar_results([]) == "No similar documents."
