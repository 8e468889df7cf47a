"""`kb doctor` finds broken invariants and repairs them; an ingest killed with SIGKILL at random points
leaves a store that the next ingest completes with no duplicate or orphan chunks."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.pipeline import Ingestor
from kb.doctor import check
from kb.search import open_searcher
from kb.settings import Settings
from kb.store import open_store
from tests.conftest import ROOT, copy_data
from tests.fakes import HashingEmbedding


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
    store.bump_version()  # the saved keyword index is now behind

    found = check(store, searcher.keyword)
    kinds = {p.kind for p in found.problems}
    assert {"orphan-chunks", "incomplete-record", "stale-keyword-index"} <= kinds and not found.healthy
    assert next(p for p in found.problems if p.kind == "incomplete-record").subject == "doc-1"

    fixed = check(store, searcher.keyword, repair=True)
    assert fixed.healthy and fixed.reingest == [str(corpus / "doc-1.md")]
    assert check(store, searcher.keyword).problems == []
    Ingestor(settings, store, embedding, searcher.keyword).run([corpus])  # the named file comes back
    after = check(store, searcher.keyword)
    assert after.healthy and after.records == 6 and not after.problems


@pytest.mark.slow
def test_ingest_killed_at_random_points_then_rerun_leaves_a_consistent_store(tmp_path: Path) -> None:
    data = copy_data(tmp_path / "data")
    store_dir = tmp_path / "kb"
    rng = random.Random(20261122)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")} | {"PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "tests.ingest_worker", str(store_dir), str(data)]
    files = sorted(data.rglob("*.md"))
    cut_at_a_write = 0
    for run in range(20):
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
    assert cut_at_a_write == 10  # every one of those runs really was cut short
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
