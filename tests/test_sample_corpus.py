"""The sample corpus end to end with the real model and the real embedded Chroma, through the CLI (and, for
`kb similar`'s reasons, in process)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import kb.retrieval.similar as similar_module
from kb.core.models import Kind
from kb.core.settings import Settings
from kb.knowledge import KnowledgeBase
from kb.retrieval.relevance import ONLY_WEAK
from tests.conftest import DATA, ROOT, copy_data

pytestmark = pytest.mark.slow


def kb(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ui.cli.main", "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, object]]:
    base = tmp_path_factory.mktemp("corpus")
    data = copy_data(base / "data")
    store = base / "store"
    result = kb(store, "ingest", str(data), "--json")
    assert result.returncode == 0, result.stderr
    return data, store, json.loads(result.stdout)


def test_every_sample_file_is_ingested_with_redactions(ingested) -> None:  # type: ignore[no-untyped-def]
    _data, _store, report = ingested
    assert report["failed"] == []
    assert report["added"] >= 58  # 30 postmortems, 20 runbooks, 8 chat logs (Slack channels count apiece)
    assert report["redacted"] > 0


def test_no_planted_secret_reaches_the_store(ingested) -> None:  # type: ignore[no-untyped-def]
    _data, store, _ = ingested
    secrets = [
        line.strip()
        for f in sorted((ROOT / "tests" / "planted_secrets").glob("*.txt"))
        for line in f.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert len(secrets) >= 10
    raw = b"".join(p.read_bytes() for p in store.rglob("*") if p.is_file())
    for secret in secrets:
        assert secret.encode() not in raw, f"planted secret found in the store: {secret[:6]}..."
    # and the corpus really contains them, so the check above means something
    corpus = "".join(p.read_text(errors="ignore") for p in DATA.rglob("*") if p.suffix in {".md", ".txt", ".json"})
    corpus += "".join(p.read_text() for p in (ROOT / "scripts" / "pdf_sources").glob("*.md"))
    missing = [s[:6] for s in secrets if s not in corpus]
    assert not missing, f"listed secrets that are not in the corpus: {missing}"


def test_reingest_is_unchanged_and_an_edit_updates_only_that_file(ingested) -> None:  # type: ignore[no-untyped-def]
    data, store, first = ingested
    again = json.loads(kb(store, "ingest", str(data), "--json").stdout)
    assert again["added"] == again["updated"] == again["removed"] == 0
    assert again["unchanged"] == first["added"]
    target = next((data / "runbooks").glob("*.md"))
    target.write_text(target.read_text() + "\n\n## Notes\nAlso check the PgBouncer SHOW POOLS output.\n")
    edited = json.loads(kb(store, "ingest", str(data), "--json").stdout)
    assert (edited["added"], edited["updated"], edited["unchanged"]) == (0, 1, first["added"] - 1)


def test_search_finds_the_fitting_postmortems_first(ingested) -> None:  # type: ignore[no-untyped-def]
    _data, store, _ = ingested
    result = kb(store, "search", "checkout errors after a deploy", "--kind", "postmortem", "-k", "3", "--json")
    assert result.returncode == 0, result.stderr
    docs = json.loads(result.stdout)
    assert docs and all(d["kind"] == "postmortem" for d in docs)
    assert "checkout" in docs[0]["title"].lower() or "checkout" in " ".join(docs[0]["services"])
    assert set(docs[0]) >= {"id", "title", "kind", "score", "passages"}
    assert docs[0]["passages"] and {"text", "section"} <= set(docs[0]["passages"][0])

    pool = json.loads(
        kb(store, "search", "FATAL: sorry, too many clients already from pgbouncer", "-k", "5", "--json").stdout
    )
    assert any("orders-db" in d["services"] for d in pool[:3])


def test_results_say_how_well_they_match(ingested) -> None:  # type: ignore[no-untyped-def]
    _data, store, _ = ingested
    fitting = json.loads(kb(store, "search", "pgbouncer pool exhausted, clients waiting", "-k", "3", "--json").stdout)
    assert fitting[0]["match"] == "strong match"
    nonsense = kb(store, "search", "zzzqqq xylophonic", "-k", "3")
    assert nonsense.returncode == 0, nonsense.stderr
    assert nonsense.stdout.startswith(ONLY_WEAK)  # the closest documents are shown, said to be no answer
    listed = [line for line in nonsense.stdout.splitlines() if " · " in line]
    assert len(listed) == 3 and all(line.strip().startswith("weak match · ") for line in listed)
    as_json = json.loads(kb(store, "search", "zzzqqq xylophonic", "-k", "3", "--json").stdout)
    assert [d["match"] for d in as_json] == ["weak match"] * 3
    assert not kb(store, "search", "pgbouncer pool exhausted").stdout.startswith(ONLY_WEAK)


def test_show_and_stats(ingested) -> None:  # type: ignore[no-untyped-def]
    _data, store, report = ingested
    stats = json.loads(kb(store, "stats", "--json").stdout)
    assert stats["documents"] == report["added"]
    assert stats["by_kind"]["postmortem"] >= 30 and stats["by_kind"]["runbook"] >= 20 and stats["by_kind"]["chat"] >= 8
    assert stats["store_mode"] == "embedded" and "MiniLM" in stats["embedding_model"]
    some_id = json.loads(kb(store, "search", "redis failover", "-k", "1", "--json").stdout)[0]["id"]
    shown = json.loads(kb(store, "show", some_id, "--json").stdout)
    assert shown["id"] == some_id and shown["sections"]
    chat_id = next(d["id"] for d in json.loads(kb(store, "search", "checkout migration", "--kind", "chat", "--json").stdout))
    chat = json.loads(kb(store, "show", chat_id, "--json").stdout)
    whole = kb(store, "show", chat_id).stdout  # a long chat log is shown whole, its last message too
    assert chat["messages"][-1]["text"].split()[-1] in whole.rstrip().splitlines()[-1]
    assert "more characters)" in kb(store, "show", chat_id, "--brief").stdout
    missing = kb(store, "show", "no-such-doc")
    assert missing.returncode == 1 and "no document with id 'no-such-doc'" in missing.stderr


def test_search_from_a_pasted_alertmanager_payload(ingested) -> None:  # type: ignore[no-untyped-def]
    _data, store, _ = ingested
    payload = json.dumps(
        {
            "status": "firing",
            "alerts": [
                {
                    "labels": {"alertname": "PgBouncerPoolExhausted", "service": "orders", "severity": "critical"},
                    "annotations": {
                        "summary": "PgBouncer pool for orders-db is exhausted",
                        "description": "clients are waiting for a server connection",
                    },
                }
            ],
        }
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ui.cli.main",
            "--data-dir",
            str(store),
            "search",
            "--alert",
            "-",
            "--kind",
            "runbook",
            "-k",
            "3",
            "--json",
        ],
        input=payload,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    docs = json.loads(result.stdout)
    assert docs[0]["id"] == "pgbouncer-pool-exhausted"
    assert any(w.startswith("alert: PgBouncerPoolExhausted") for w in docs[0]["why"])
    bad = subprocess.run(
        [sys.executable, "-m", "ui.cli.main", "--data-dir", str(store), "search", "--alert", "-"],
        input="{broken",
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert bad.returncode == 1 and "stdin" in bad.stderr


def test_similar_incidents_share_the_failure_mode(ingested) -> None:  # type: ignore[no-untyped-def]
    _data, store, _ = ingested
    docs = json.loads(kb(store, "similar", "2025-01-08-session-cache-failover-2025", "-k", "3", "--json").stdout)
    ids = [d["id"] for d in docs]
    assert "2025-01-08-session-cache-failover-2025" not in ids
    assert "2023-04-21-session-cache-failover-logouts" in ids
    for migration in ("2024-09-05-checkout-rollback-bad-migration", "2026-01-21-pgbouncer-idle-in-transaction"):
        found = json.loads(kb(store, "similar", migration, "--json").stdout)
        for relation in {d["relation"] for d in found}:  # incidents and covering runbooks: each ranked in its own list
            shown = [d["score"] for d in found if d["relation"] == relation]
            assert shown[0] == 1.0 and shown == sorted(shown, reverse=True), (migration, relation, shown)


def test_eval_on_a_tiny_hand_checked_set(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    (corpus / "runbooks").mkdir(parents=True)
    topics = {
        "disk.md": "# Disk almost full\nThe filesystem on a node has less than 10% free space left.",
        "cert.md": "# Certificate expiring\nA TLS certificate will expire within 7 days; renew it.",
        "lag.md": "# Consumer lag\nKafka consumer group lag keeps growing on the orders topic.",
        "oom.md": "# Pod OOMKilled\nA container was killed for exceeding its memory limit.",
    }
    for name, text in topics.items():
        (corpus / "runbooks" / name).write_text(text)
    queries = tmp_path / "queries.jsonl"
    queries.write_text(
        "\n".join(
            json.dumps(q)
            for q in [
                {
                    "id": "1",
                    "query": "free space on the node filesystem is running out",
                    "relevant": ["runbooks/disk.md"],
                },
                {"id": "2", "query": "tls certificate expires soon", "relevant": ["runbooks/cert.md"]},
                {
                    "id": "3",
                    "query": "memory limit exceeded, container killed",
                    "relevant": ["runbooks/oom.md"],
                    "exclude": ["runbooks/lag.md"],
                },
            ]
        )
        + "\n"
    )
    result = kb(tmp_path / "unused", "eval", str(corpus), str(queries), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["queries"] == 3 and data["documents"] == 4
    for mode in ("hybrid", "bm25", "dense"):
        assert set(data[mode]) >= {
            "recall@1",
            "recall@5",
            "recall@10",
            "precision@10",
            "mrr@10",
            "ndcg@10",
            "s@10",
            "p50_ms",
            "p95_ms",
        }
    # each query names its runbook plainly, so every retriever ranks it first
    assert data["hybrid"]["recall@1"] == 1.0 and data["hybrid"]["mrr@10"] == 1.0
    assert data["hybrid"]["precision@10"] == 0.1  # one relevant document among ten slots
    table = kb(tmp_path / "unused", "eval", str(corpus), str(queries))
    assert "hybrid" in table.stdout and "mrr@10" in table.stdout


def test_similar_gives_the_reasons_a_search_with_reasons_would(ingested, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """`kb similar` searches without reasons and works them out only for the documents it shows (those only a
    passage found get that passage's search again): the same documents and reasons as every search explained."""
    _data, store, _ = ingested
    kb_ = KnowledgeBase(Settings(data_dir=store, _env_file=None), use_llm=False)  # type: ignore[call-arg]
    kinds = (Kind.postmortem, Kind.chat, Kind.runbook)
    incidents = sorted(rid for rid, meta in kb_.record_metas().items() if meta.kind == Kind.postmortem)[:8]
    by_passage: list[str] = []
    explain = similar_module._explain

    def counted(corpus, kept, found_by, *rest):  # type: ignore[no-untyped-def]
        by_passage.extend(d.record.id for d, _ in kept if d.record.id in found_by)
        explain(corpus, kept, found_by, *rest)

    monkeypatch.setattr(similar_module, "_explain", counted)
    # searches this short leave documents that only a passage finds among those shown (with the usual pool of
    # 60, the whole document's search finds nearly all the 59 the sample corpus holds)
    monkeypatch.setattr(similar_module, "POOL", 4)
    lazy = {i: [(d.record.id, d.relation, d.why) for d in kb_.similar(i, k=5, kinds=kinds)] for i in incidents}
    assert by_passage, "no document shown was found by a passage only: the test does not reach the lazy reasons"
    search = KnowledgeBase.search
    monkeypatch.setattr(KnowledgeBase, "search", lambda self, query, mode="hybrid", passages_per_doc=3, explain=True:
                        search(self, query, mode, passages_per_doc, True))
    monkeypatch.setattr(similar_module, "_explain", lambda *args: None)  # every search gave its reasons already
    eager = {i: [(d.record.id, d.relation, d.why) for d in kb_.similar(i, k=5, kinds=kinds)] for i in incidents}
    assert lazy == eager
