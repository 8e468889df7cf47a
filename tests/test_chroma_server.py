"""The same store code against a real Chroma server (`chroma run`) started on loopback by the test."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.pipeline import Ingestor
from kb.clients.store import open_store
from kb.core.errors import StoreError, StoreUnavailable
from kb.core.settings import Settings
from kb.retrieval.embeddings import model_id
from kb.retrieval.keyword import KeywordIndex
from kb.retrieval.search import Query, Searcher
from tests.conftest import free_port
from tests.fakes import HashingEmbedding

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def chroma_url(chroma_server: str) -> str:
    return chroma_server


def test_ingest_and_search_through_a_chroma_server(chroma_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "postmortems"
    folder.mkdir()
    (folder / "a.md").write_text("# Checkout 502\n## Summary\ncheckout returned 502 after a deploy\n")
    (folder / "b.md").write_text("# Kafka lag\n## Summary\nconsumer lag delayed deliveries\n")
    settings = Settings(data_dir=tmp_path / "unused", chroma_url=chroma_url, _env_file=None)  # type: ignore[call-arg]
    embedding = HashingEmbedding()
    store = open_store(settings, model_id(embedding))
    ingestor = Ingestor(settings, store, embedding)
    assert ingestor.run([folder]).added == 2
    assert ingestor.run([folder]).unchanged == 2
    results = Searcher(store, embedding, KeywordIndex(store, None)).search(Query("checkout 502 deploy", k=2))
    assert results[0].record.id == "a"
    assert not (tmp_path / "unused").exists(), "server mode must not create an embedded store"
    # a second client (another process in real use) sees the same documents
    other = open_store(settings, model_id(embedding))
    assert set(other.record_index()) == {"a", "b"}


def test_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    settings = Settings(data_dir=tmp_path, chroma_url=url, _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(StoreUnavailable, match="unreachable"):
        open_store(settings, "x")


def start_chroma(path: Path, port: int) -> subprocess.Popen[bytes]:
    exe = Path(sys.executable).with_name("chroma")
    chroma = str(exe) if exe.exists() else shutil.which("chroma")
    assert chroma
    proc = subprocess.Popen([chroma, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("chroma run did not start")


def test_server_stopped_and_restarted_mid_session(tmp_path: Path) -> None:
    port = free_port()
    server = start_chroma(tmp_path / "db", port)
    try:
        folder = tmp_path / "docs"
        folder.mkdir()
        (folder / "a.md").write_text("# Checkout 502\n## Summary\ncheckout returned 502 after a deploy\n")
        settings = Settings(data_dir=tmp_path / "kb", chroma_url=f"http://127.0.0.1:{port}",  # type: ignore[call-arg]
                            _env_file=None)
        embedding = HashingEmbedding()
        store = open_store(settings, model_id(embedding))
        Ingestor(settings, store, embedding).run([folder])
        searcher = Searcher(store, embedding, KeywordIndex(store, None, refresh_s=0.0))
        assert searcher.search(Query("checkout 502", k=1))[0].record.id == "a"

        server.terminate()
        server.wait(timeout=30)
        started = time.monotonic()
        with pytest.raises(StoreError) as down:
            searcher.search(Query("checkout 502", k=1))
        assert "127.0.0.1" in str(down.value) or "unreachable" in str(down.value) or "failed" in str(down.value)
        assert time.monotonic() - started < 30  # fails fast, does not hang

        server = start_chroma(tmp_path / "db", port)  # same data, same port
        assert searcher.search(Query("checkout 502", k=1))[0].record.id == "a"  # the same objects recover
        assert Ingestor(settings, store, embedding).run([folder]).unchanged == 1
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_cli_ingest_and_two_ui_processes_share_one_server(chroma_url: str, tmp_path: Path) -> None:
    from tests.conftest import ROOT

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "ledger-lag.md").write_text("---\nkind: postmortem\n---\n# Ledger consumer lag\n\n## Summary\n\n"
                                          "The ledger consumer fell behind after a rebalance storm.\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_") or k == "KB_CACHE_DIR"}
    env |= {"KB_CHROMA_URL": chroma_url, "KB_COLLECTION_PREFIX": "team", "PYTHONPATH": str(ROOT)}
    ingest = subprocess.run([sys.executable, "-m", "ui.cli.main", "--data-dir", str(tmp_path / "cli"), "ingest",
                             str(folder)], env=env, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert ingest.returncode == 0, ingest.stderr
    probes = [
        subprocess.Popen([sys.executable, "-m", "tests.ui_probe", str(ROOT / "ui" / "web" / "app.py"),
                          "ledger consumer lag"], env=env | {"KB_DATA_DIR": str(tmp_path / f"ui{n}")}, cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for n in range(2)
    ]
    for probe in probes:
        out, err = probe.communicate(timeout=600)
        assert probe.returncode == 0, err[-2000:]
        seen = json.loads(out.strip().splitlines()[-1])
        assert seen["exceptions"] == [] and "Ledger consumer lag" in seen["titles"][0]
