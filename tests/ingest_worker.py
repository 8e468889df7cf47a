"""Run one ingest of a folder into a store with the fast fake embedding (a subprocess the crash tests kill).

With a third argument N, the process kills itself (SIGKILL, as the OOM killer or a lost node would) right
after its N-th write to Chroma, so a test can cut an ingest short at a chosen point on any machine."""

from __future__ import annotations

import functools
import os
import signal
import sys
from pathlib import Path
from typing import Any

from chromadb.api.models.Collection import Collection

from ingest.pipeline import Ingestor
from kb.search import open_searcher
from kb.settings import Settings
from kb.store import open_store
from tests.fakes import HashingEmbedding


def kill_after_writes(n: int) -> None:
    """SIGKILL this process just after the n-th add, upsert, update or delete on any Chroma collection."""
    count = [0]
    for name in ("add", "upsert", "update", "delete"):
        original = getattr(Collection, name)

        @functools.wraps(original)
        def counted(self: Collection, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            result = __original(self, *args, **kwargs)
            count[0] += 1
            if count[0] >= n:
                os.kill(os.getpid(), signal.SIGKILL)
            return result

        setattr(Collection, name, counted)


def main(data_dir: str, folder: str) -> None:
    settings = Settings(data_dir=Path(data_dir), lock_timeout_s=30, _env_file=None)  # type: ignore[call-arg]
    embedding = HashingEmbedding()
    store = open_store(settings, "hashing-64")
    searcher = open_searcher(settings, store, embedding)
    Ingestor(settings, store, embedding, searcher.keyword).run([Path(folder)], prune=True)


if __name__ == "__main__":
    if len(sys.argv) > 3:
        kill_after_writes(int(sys.argv[3]))
    main(sys.argv[1], sys.argv[2])
