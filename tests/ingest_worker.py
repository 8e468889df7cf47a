"""Run one ingest of a folder into a store with the fast fake embedding (a subprocess the crash tests kill).

usage: python -m tests.ingest_worker DATA_DIR FOLDER [N] [--after-commits K] [--before-bump B] [--batch-files F]

With N, the process kills itself (SIGKILL, as the OOM killer or a lost node would) right after its N-th write
to Chroma, so a test can cut an ingest short at a chosen point on any machine. With --after-commits K it
kills itself when the embedding model is next asked for vectors after the K-th commit of a batch of documents
(an ingest killed while embedding its next batch); with --before-bump B, just before the B-th change of the
store's version stamp (after a commit, before readers are told of it). --batch-files sets the documents per
batch."""

from __future__ import annotations

import argparse
import functools
import os
import signal
from pathlib import Path
from typing import Any

from chromadb.api.models.Collection import Collection

from ingest import pipeline
from ingest.pipeline import Ingestor
from kb.clients.store import Store, open_store
from kb.core.settings import Settings
from kb.retrieval.search import open_searcher
from tests.fakes import HashingEmbedding


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


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
                _die()
            return result

        setattr(Collection, name, counted)


def kill_when_embedding_after_commits(k: int) -> None:
    """SIGKILL this process when the embedding model is called after the k-th commit of documents."""
    commits = [0]
    put_documents = Store.put_documents
    embed = HashingEmbedding._get_text_embeddings

    def counted_put(self: Store, *args: Any, **kwargs: Any) -> None:
        put_documents(self, *args, **kwargs)
        commits[0] += 1

    def checked_embed(self: HashingEmbedding, texts: list[str]) -> list[list[float]]:
        if commits[0] >= k:
            _die()
        return embed(self, texts)

    Store.put_documents = counted_put  # type: ignore[method-assign]
    HashingEmbedding._get_text_embeddings = checked_embed  # type: ignore[method-assign]


def kill_before_bump(b: int) -> None:
    """SIGKILL this process just before the b-th change of the store's version stamp."""
    count = [0]
    bump = Store.bump_version

    def counted(self: Store) -> str:
        count[0] += 1
        if count[0] >= b:
            _die()
        return bump(self)

    Store.bump_version = counted  # type: ignore[method-assign]


def main(data_dir: str, folder: str) -> None:
    settings = Settings(data_dir=Path(data_dir), lock_timeout_s=30, _env_file=None)  # type: ignore[call-arg]
    embedding = HashingEmbedding()
    store = open_store(settings, "hashing-64")
    searcher = open_searcher(settings, store, embedding)
    Ingestor(settings, store, embedding, searcher.keyword).run([Path(folder)], prune=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("data_dir")
    parser.add_argument("folder")
    parser.add_argument("writes", nargs="?", type=int)
    parser.add_argument("--after-commits", type=int)
    parser.add_argument("--before-bump", type=int)
    parser.add_argument("--batch-files", type=int)
    args = parser.parse_args()
    if args.writes:
        kill_after_writes(args.writes)
    if args.after_commits:
        kill_when_embedding_after_commits(args.after_commits)
    if args.before_bump:
        kill_before_bump(args.before_bump)
    if args.batch_files:
        pipeline.WRITE_BATCH_FILES = args.batch_files
    main(args.data_dir, args.folder)
