"""Run one ingest of a folder into a store with the fast fake embedding (a subprocess the crash tests kill)."""

from __future__ import annotations

import sys
from pathlib import Path

from ingest.pipeline import Ingestor
from kb.search import open_searcher
from kb.settings import Settings
from kb.store import open_store
from tests.fakes import HashingEmbedding


def main(data_dir: str, folder: str) -> None:
    settings = Settings(data_dir=Path(data_dir), lock_timeout_s=30, _env_file=None)  # type: ignore[call-arg]
    embedding = HashingEmbedding()
    store = open_store(settings, "hashing-64")
    searcher = open_searcher(settings, store, embedding)
    Ingestor(settings, store, embedding, searcher.keyword).run([Path(folder)], prune=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
