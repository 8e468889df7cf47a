"""An ingest killed with SIGKILL keeps every batch it committed; the next run resumes where it stopped,
embedding only what was not committed, and ends with the store a clean ingest makes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ingest import pipeline
from ingest.pipeline import Ingestor
from kb.clients.store import Store, open_store
from kb.core.settings import Settings
from kb.ops.doctor import check
from kb.retrieval.search import open_searcher
from tests.conftest import ROOT
from tests.fakes import HashingEmbedding
from tests.test_doctor import small_corpus


def worker(data_dir: Path, corpus: Path, *options: str) -> int:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_") or k == "KB_CACHE_DIR"} | {"PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "tests.ingest_worker", str(data_dir), str(corpus), *options]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=300)
    assert proc.returncode in (0, -signal.SIGKILL), proc.stderr
    return proc.returncode


def opened(data_dir: Path) -> tuple[Settings, Store, HashingEmbedding]:
    settings = Settings(data_dir=data_dir, _env_file=None)  # type: ignore[call-arg]
    return settings, open_store(settings, "hashing-64"), HashingEmbedding()


def shape(store: Store) -> dict[str, tuple[str, int]]:
    """Every record's content hash and chunk count, as stored."""
    return {rid: (m.content_hash, m.chunks) for rid, m in store.record_index().items()}


def test_a_kill_while_embedding_the_next_batch_keeps_the_first_and_the_rerun_embeds_only_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = small_corpus(tmp_path / "corpus", n=10)
    killed = tmp_path / "killed"
    assert worker(killed, corpus, "--batch-files", "3", "--after-commits", "1") == -signal.SIGKILL

    settings, store, embedding = opened(killed)
    searcher = open_searcher(settings, store, embedding)
    assert sorted(store.record_index()) == ["doc-0", "doc-1", "doc-2"]  # the first batch, committed
    for rid in store.record_index():
        assert store.get_record(rid).text  # each record is whole: doctor counts its chunks below
    doctor = check(store, searcher.keyword)
    assert doctor.problems == [] and doctor.healthy and doctor.records == 3
    kept_texts = {meta.text_hash for _cid, _t, meta in store.iter_chunks()}
    assert kept_texts

    monkeypatch.setattr(pipeline, "WRITE_BATCH_FILES", 3)
    resumed = Ingestor(settings, store, embedding, searcher.keyword).run([corpus])
    assert (resumed.added, resumed.updated, resumed.unchanged) == (7, 0, 3)

    _s, clean_store, clean_embedding = opened(tmp_path / "clean")
    clean_keyword = open_searcher(_s, clean_store, clean_embedding).keyword  # headings are embedded too, once
    clean = Ingestor(_s, clean_store, clean_embedding, clean_keyword).run([corpus])
    assert clean.added == 10
    assert embedding.texts_embedded == clean_embedding.texts_embedded - len(kept_texts), "nothing embedded twice"
    assert resumed.embedded_chunks == clean.embedded_chunks - len(kept_texts)
    assert shape(store) == shape(clean_store)
    assert sorted(c for c, _t, _m in store.iter_chunks()) == sorted(c for c, _t, _m in clean_store.iter_chunks())
    assert check(store, searcher.keyword).problems == []


def test_a_kill_between_a_commit_and_its_version_stamp_is_seen_by_readers_after_the_next_run(tmp_path: Path) -> None:
    corpus = small_corpus(tmp_path / "corpus", n=4)
    data = tmp_path / "kb"
    assert worker(data, corpus) == 0
    doc = corpus / "doc-2.md"
    doc.write_text(doc.read_text() + "\nEdited afterwards: zanzibar.\n")
    assert worker(data, corpus, "--before-bump", "1") == -signal.SIGKILL  # committed, readers not told
    assert worker(data, corpus) == 0  # nothing left to ingest, but the cut-short write is finished

    settings, store, embedding = opened(data)
    reader = open_searcher(settings, store, embedding).keyword
    reader.ensure_fresh()
    assert any("zanzibar" in text for text in reader.texts)
    assert check(store, reader).problems == []


def test_doctor_repairs_a_kill_between_a_commit_and_its_version_stamp(tmp_path: Path) -> None:
    corpus = small_corpus(tmp_path / "corpus", n=4)
    data = tmp_path / "kb"
    assert worker(data, corpus) == 0
    doc = corpus / "doc-1.md"
    doc.write_text(doc.read_text() + "\nEdited afterwards: zanzibar.\n")
    assert worker(data, corpus, "--before-bump", "1") == -signal.SIGKILL

    settings, store, embedding = opened(data)
    found = check(store, open_searcher(settings, store, embedding).keyword)
    assert not found.healthy
    repaired = check(store, open_searcher(settings, store, embedding).keyword, repair=True)
    assert repaired.healthy
    after = check(store, open_searcher(settings, store, embedding).keyword)
    assert after.problems == [] and after.healthy
    reader = open_searcher(settings, store, embedding).keyword
    reader.ensure_fresh()
    assert any("zanzibar" in text for text in reader.texts)


def test_progress_is_one_bar_per_stage_across_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI and web UI draw a bar per stage and close it when the next stage begins: with many batches, each
    stage still comes once, and "embed" counts every chunk of the run up to its total."""
    monkeypatch.setattr(pipeline, "WRITE_BATCH_FILES", 2)
    settings, store, embedding = opened(tmp_path / "kb")
    calls: list[tuple[str, int, int]] = []
    report = Ingestor(settings, store, embedding).run(
        [small_corpus(tmp_path / "corpus", n=7)], progress=lambda *call: calls.append(call)
    )
    stages = [stage for i, (stage, _d, _t) in enumerate(calls) if i == 0 or calls[i - 1][0] != stage]
    assert stages == ["scan", "embed"]
    embed = [(done, total) for stage, done, total in calls if stage == "embed"]
    chunks = sum(f.chunks for f in report.files)
    assert {total for _d, total in embed} == {chunks} and embed[-1] == (chunks, chunks)
    assert [d for d, _t in embed] == sorted(d for d, _t in embed) and len(embed) > 4  # moves batch by batch
