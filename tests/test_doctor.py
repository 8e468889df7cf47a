"""`kb doctor` finds broken invariants and repairs them; an ingest killed with SIGKILL at random points
leaves a store that the next ingest completes with no duplicate or orphan chunks."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.pipeline import Ingestor
from kb.clients.store import Store, open_store
from kb.core.settings import Settings
from kb.ops.doctor import check
from kb.retrieval.keyword import KeywordIndex
from kb.retrieval.search import keyword_dir, open_searcher
from tests.conftest import ROOT, copy_data
from tests.fakes import HashingEmbedding
from ui.cli.main import main


def small_corpus(root: Path, n: int = 6) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        body = "\n\n".join(f"## Section {j}\n\n" + f"Service svc{i} step {j} words " * 40 for j in range(5))
        (root / f"doc-{i}.md").write_text(f"---\nkind: runbook\nservices: [svc{i}]\n---\n# Doc {i}\n\n{body}\n")
    return root


def test_doctor_finds_and_repairs_orphans_incomplete_records_and_a_stale_index(settings: Settings, tmp_path: Path) -> None:
    embedding = HashingEmbedding()
    store = open_store(settings, "hashing-64")
    searcher = open_searcher(settings, store, embedding)
    corpus = small_corpus(tmp_path / "c")
    Ingestor(settings, store, embedding, searcher.keyword).run([corpus])
    healthy = check(store, searcher.keyword)
    assert healthy.healthy and not healthy.problems and healthy.records == 6

    chunks = store._chunks
    got = chunks.get(where={"record_id": "doc-1"}, include=["metadatas"])
    victim = sorted(got["ids"])[0]
    chunks.delete(ids=[victim])  # doc-1 now incomplete
    meta = dict(got["metadatas"][0]) | {"record_id": "ghost"}
    chunks.add(ids=["ghost:abc:0"], documents=["left behind"], metadatas=[meta], embeddings=[[0.1] * 64])
    stale_index(settings)

    found = check(store, stale_reader(settings, store))
    kinds = {p.kind for p in found.problems}
    assert {"orphan-chunks", "incomplete-record", "stale-keyword-index"} <= kinds and not found.healthy
    assert next(p for p in found.problems if p.kind == "incomplete-record").subject == "doc-1"

    fixed = check(store, stale_reader(settings, store), repair=True)
    assert fixed.healthy and fixed.reingest == [str(corpus / "doc-1.md")]
    assert check(store, stale_reader(settings, store)).problems == []  # clean right after the repair
    Ingestor(settings, store, embedding, searcher.keyword).run([corpus])  # the named file comes back
    after = check(store, searcher.keyword)
    assert after.healthy and after.records == 6 and not after.problems


def stale_index(settings: Settings) -> None:
    """Make the saved keyword index claim the store's current version while holding other passages (a reader
    cannot tell: only the doctor can)."""
    rows_file = keyword_dir(settings) / "rows.json"
    rows = json.loads(rows_file.read_text())
    rows["chunk_ids"][0] = "doc-0:000000000000:99"
    rows_file.write_text(json.dumps(rows))


def stale_reader(settings: Settings, store: Store) -> KeywordIndex:
    return KeywordIndex(store, keyword_dir(settings))


def test_a_saved_keyword_index_behind_the_store_is_not_a_problem(settings: Settings, tmp_path: Path) -> None:
    """Readers rebuild an index whose version is behind the store's (as after a killed ingest); doctor does too."""
    embedding = HashingEmbedding()
    store = open_store(settings, "hashing-64")
    Ingestor(settings, store, embedding, open_searcher(settings, store, embedding).keyword).run([small_corpus(tmp_path)])
    store.bump_version()
    report = check(store, stale_reader(settings, store))
    assert report.problems == [] and report.healthy


def test_a_keyword_index_wrong_for_the_current_version_is_rebuilt_by_repair(settings: Settings, tmp_path: Path) -> None:
    embedding = HashingEmbedding()
    store = open_store(settings, "hashing-64")
    Ingestor(settings, store, embedding, open_searcher(settings, store, embedding).keyword).run([small_corpus(tmp_path)])
    stale_index(settings)
    assert [p.kind for p in check(store, stale_reader(settings, store)).problems] == ["stale-keyword-index"]
    assert check(store, stale_reader(settings, store), repair=True).healthy
    after = check(store, stale_reader(settings, store))
    assert after.problems == [] and after.healthy


def test_doctor_on_a_fresh_empty_data_dir_is_healthy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(data_dir=tmp_path / "kb", _env_file=None)  # type: ignore[call-arg]
    store = open_store(settings, "hashing-64")
    report = check(store, stale_reader(settings, store))
    assert report.healthy and report.problems == [] and report.records == report.chunks == 0
    assert main(["--data-dir", str(tmp_path / "cli"), "doctor"]) == 0
    assert "healthy" in capsys.readouterr().out


@pytest.mark.slow
def test_ingest_killed_at_random_points_then_rerun_leaves_a_consistent_store(tmp_path: Path) -> None:
    data = copy_data(tmp_path / "data")
    store_dir = tmp_path / "kb"
    rng = random.Random(20261122)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_") or k == "KB_CACHE_DIR"} | {"PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "tests.ingest_worker", str(store_dir), str(data)]
    files = sorted(data.rglob("*.md"))
    cut_at_a_write = 0
    for run in range(12):  # six cut at a write, six killed from outside
        for target in rng.sample(files, 2):  # every run has documents to update, so there is work to cut short
            target.write_text(target.read_text() + f"\nEdited in run {run}.\n")
        if run % 2 == 0:  # killed just after its n-th write to Chroma: the same points on any machine
            proc = subprocess.run([*cmd, str(rng.randint(1, 4))], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, check=False, timeout=600)
            cut_at_a_write += proc.returncode == -signal.SIGKILL
            continue
        proc2 = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.5, 6.0))  # and killed from outside at a random moment (maybe while writing)
        if proc2.poll() is None:
            proc2.send_signal(signal.SIGKILL)
        proc2.wait()
    assert cut_at_a_write == 6  # every one of those runs really was cut short
    finish = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=600)
    assert finish.returncode == 0, finish.stderr

    settings = Settings(data_dir=store_dir, _env_file=None)  # type: ignore[call-arg]
    store = open_store(settings, "hashing-64")
    searcher = open_searcher(settings, store, HashingEmbedding())
    report = check(store, searcher.keyword)
    assert report.problems == [], report.problems  # no orphans, no duplicates, every record complete
    assert report.records == 59
    ids = [cid for cid, _t, _m in store.iter_chunks()]
    assert len(ids) == len(set(ids)) == report.chunks
