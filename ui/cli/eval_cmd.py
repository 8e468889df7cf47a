"""`kb eval`: measure search on your own labelled queries."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from kb.retrieval.evaluation import load_queries
from ui.cli.context import Context
from ui.cli.progress import progress_bars

HELP = """Measure search quality on labelled queries.

CORPUS_DIR holds the documents (a document's id is its path under CORPUS_DIR); QUERIES.jsonl has one
query a line: {"id", "query", "relevant": [doc ids], "exclude": [doc ids]}. The corpus is ingested into a
temporary store (or --store DIR, kept and reused), every query is run with the hybrid, BM25-only and
dense-only retrievers, and Recall@1/5/10, Precision@k, MRR@k, nDCG@k, S@k and latency are printed side
by side.

examples:
  kb eval our-postmortems/ labelled.jsonl
  kb eval our-postmortems/ labelled.jsonl --k 5 --json > search-quality.json

a line of labelled.jsonl:
  {"id": "q1", "query": "checkout pods restarting, OOMKilled", "relevant": ["2024/checkout-oom.md"]}"""

COLUMNS = ("recall@1", "recall@5", "recall@10", "precision@{k}", "mrr@{k}", "ndcg@{k}", "s@{k}", "p50_ms", "p95_ms")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "eval",
        help="measure search on labelled queries",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("corpus", type=Path, metavar="CORPUS_DIR")
    p.add_argument("queries", type=Path, metavar="QUERIES.jsonl")
    p.add_argument("--k", type=int, default=10, help="depth of the ranking scored (default 10)")
    p.add_argument("--store", type=Path, metavar="DIR", help="keep the evaluation store in DIR and reuse it")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.set_defaults(run=run)


def table(result: dict[str, Any], k: int) -> str:
    names = [c.format(k=k) for c in COLUMNS]
    lines = [f"{'retriever':<9} " + " ".join(f"{n:>12}" for n in names)]
    from ingest.evaluate import MODES

    for mode in MODES:
        lines.append(f"{mode:<9} " + " ".join(f"{result[mode].get(n, 0.0):>12.3f}" for n in names))
    lines.append(f"{result['queries']} queries, {result['documents']} documents")
    return "\n".join(lines)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from ingest.evaluate import run_eval  # the ingestion pipeline loads with it: only this command needs it

    queries = load_queries(args.queries)
    with progress_bars(ctx.interactive) as progress:
        result = run_eval(ctx.settings, ctx.kb.embedding, args.corpus, queries, args.k, args.store, progress)
    if ctx.json:
        ctx.print_json({key: value for key, value in result.items() if key != "failed"})
    else:
        print(table(result, args.k))
        for failure in result["failed"]:
            print(f"  FAILED {failure['path']}: {failure['error']}")
    return 0
