"""An ingest running while two clients search continuously: no errors, and every search sees a document
whole, in its old or its new version, never half of each."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import pytest

from ingest.pipeline import Ingestor
from kb.clients.store import open_store
from kb.core.settings import Settings
from kb.retrieval.keyword import KeywordIndex
from kb.retrieval.search import Query, Searcher
from tests.fakes import HashingEmbedding

pytestmark = pytest.mark.slow


def write_version(folder: Path, n: int) -> None:
    sections = "\n\n".join(f"## Part {j}\n\nmarker rev{n} paragraph {j} " + "filler words here " * 30 for j in range(6))
    (folder / "doc.md").write_text(f"# Versioned document\n\n{sections}\n")


def test_searches_during_ingest_see_whole_versions(settings: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(5):
        (folder / f"other-{i}.md").write_text(f"# Other {i}\n\nunrelated text about service{i}\n")
    write_version(folder, 0)
    embedding = HashingEmbedding()
    store = open_store(settings, "hashing-64")
    Ingestor(settings, store, embedding).run([folder])

    errors: list[BaseException] = []
    mixed: list[set[str]] = []
    searches = [0, 0]
    stop = threading.Event()

    def client(n: int) -> None:
        searcher = Searcher(store, embedding, KeywordIndex(store, None, refresh_s=0.0))
        while not stop.is_set():
            try:
                for doc in searcher.search(Query("marker paragraph versioned", k=3), passages_per_doc=6):
                    if doc.record.id == "doc":
                        versions = {m for h in doc.hits for m in re.findall(r"rev\d+", h.chunk.text)}
                        if len(versions) > 1:
                            mixed.append(versions)
                searches[n] += 1
            except BaseException as exc:
                errors.append(exc)
                return

    threads = [threading.Thread(target=client, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    try:
        for version in range(1, 9):
            write_version(folder, version)
            Ingestor(settings, store, embedding).run([folder])
            time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert errors == []
    assert mixed == []
    assert min(searches) >= 5, searches
