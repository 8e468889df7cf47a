"""The same store code against a real Chroma server (`chroma run`) started on loopback by the test."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.pipeline import Ingestor
from kb.embeddings import model_id
from kb.errors import StoreUnavailable
from kb.keyword import KeywordIndex
from kb.search import Query, Searcher
from kb.settings import Settings
from kb.store import open_store
from tests.fakes import HashingEmbedding

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    exe = Path(sys.executable).with_name("chroma")
    chroma = str(exe) if exe.exists() else shutil.which("chroma")
    assert chroma, "the chroma command (from chromadb) is missing"
    port = free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    log = (path / "server.log").open("w")
    proc = subprocess.Popen(
        [chroma, "run", "--path", str(path / "db"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("chroma run did not start: " + (path / "server.log").read_text()[-2000:])
    yield url
    proc.terminate()
    proc.wait(timeout=20)
    log.close()


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
