"""Measure dense retrieval of the configured embedding model on a labelled set (corpus/ + queries.jsonl).

usage: python scripts/eval_dense.py EVAL_SET_DIR [QUERIES_FILE ...]
Prints the metrics per query file, and the ingest and query speed.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from ingest.pipeline import Ingestor
from kb.embeddings import make_embedding, model_id
from kb.evaluation import evaluate, load_queries
from kb.search import Query, search
from kb.settings import Settings
from kb.store import open_store


def main() -> None:
    root = Path(sys.argv[1])
    files = [Path(p) for p in sys.argv[2:]] or sorted(root.glob("queries*.jsonl"))
    corpus = root / "corpus"
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp))
        embedding = make_embedding(settings)
        store = open_store(settings, model_id(embedding))
        t0 = time.perf_counter()
        report = Ingestor(settings, store, embedding).run([corpus], kind=None)
        took = time.perf_counter() - t0
        chunks = store.count_chunks()
        print(
            f"ingested {report.added} docs, {chunks} chunks in {took:.1f}s ({chunks / took:.1f} chunks/s); "
            f"failed {len(report.failed)}"
        )

        def rank(text: str, n: int) -> list[str]:
            docs = search(store, embedding, Query(text=text, k=n))
            return [str(Path(d.record.source_path).resolve().relative_to(corpus.resolve())) for d in docs]

        for qfile in files:
            queries = load_queries(qfile)
            t1 = time.perf_counter()
            metrics = evaluate(queries, rank)
            per_query = (time.perf_counter() - t1) / max(1, len(queries)) * 1000
            shown = " ".join(f"{k}={v:.3f}" for k, v in metrics.items())
            print(f"{qfile.name} ({len(queries)} queries, {per_query:.0f} ms/query): {shown}")


if __name__ == "__main__":
    main()
