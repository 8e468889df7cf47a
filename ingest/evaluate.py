"""Measure search on labelled queries: ingest a corpus into a temporary (or kept) store, then run every
query with the hybrid, BM25-only and dense-only retrievers and compute the metrics side by side."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding

from ingest.pipeline import Ingestor, Progress
from kb.core.settings import Settings
from kb.knowledge import open_kb
from kb.retrieval.evaluation import LabelledQuery, evaluate
from kb.retrieval.search import Mode, Query

MODES: tuple[Mode, ...] = ("hybrid", "bm25", "dense")


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def run_eval(
    settings: Settings,
    embedding: BaseEmbedding,
    corpus: Path,
    queries: list[LabelledQuery],
    k: int = 10,
    store_dir: Path | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Metrics per retriever, plus query latency, query and document counts."""
    report = progress or (lambda stage, done, total: None)
    with tempfile.TemporaryDirectory(prefix="kb-eval-") as tmp:
        data_dir = store_dir or Path(tmp)
        local = settings.model_copy(update={"data_dir": data_dir, "chroma_url": None})
        kb = open_kb(local, llm=False, embedding=embedding)
        ingest = Ingestor.into(kb).run([corpus], progress=report)
        store, searcher = kb.store, kb.searcher
        root = corpus.resolve()
        path_of = {rid: str(Path(meta.source_path).relative_to(root)) for rid, meta in store.record_index().items()}
        out: dict[str, Any] = {}
        for mode in MODES:
            latencies: list[float] = []

            def rank(text: str, n: int, mode: Mode = mode, latencies: list[float] = latencies) -> list[str]:
                started = time.perf_counter()
                ranked = searcher.rank(Query(text=text, k=n), mode)[:n]
                latencies.append((time.perf_counter() - started) * 1000)
                return [path_of.get(rid, rid) for rid, _s, _h in ranked]

            def step(done: int, total: int, mode: Mode = mode) -> None:
                report(f"eval {mode}", done, total)

            searcher.rank(Query(text="warm up", k=1), mode)
            metrics = evaluate(queries, rank, k, step)
            metrics["p50_ms"] = _percentile(latencies, 0.50)
            metrics["p95_ms"] = _percentile(latencies, 0.95)
            out[mode] = {name: round(value, 4) for name, value in metrics.items()}
        out["queries"] = len(queries)
        out["documents"] = store.count_records()
        out["failed"] = [f.model_dump() for f in ingest.failed]
        return out
