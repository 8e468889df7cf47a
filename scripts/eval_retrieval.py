"""Hybrid, BM25 and dense side by side on every retrieval set the shared evaluation folder holds.

    python scripts/eval_retrieval.py --eval-dir ../shared/eval
    python scripts/eval_retrieval.py --eval-dir ../shared/eval \\
        --store k8s-alert-runbook=DIR --store moj-cloud-platform=DIR      # reuse stores (ingested when empty)

The sets:
- k8s-alert-runbook: `queries.jsonl` (alert summary + description) and `queries_description_only.jsonl`
  against the runbooks of `corpus/`;
- moj-cloud-platform ask: each question of `ask.jsonl` against the document that answers it (`doc`;
  questions with no such document are left out);
- moj-cloud-platform similar: the text of each `query_doc` of `similar.jsonl` (a whole document, as
  `kb similar` starts from) against its `relevant` documents, the query document itself excluded.

A document's id is its path under the set's `corpus/`. The moj-cloud-platform corpus is ingested with its
postmortems as --kind postmortem and its runbooks as --kind runbook (as its README says); no LLM is used.
Prints R@1, R@5, R@10, MRR@10 and nDCG@10 for each retriever; --json prints them as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ingest.pipeline import Ingestor  # noqa: E402
from kb.core.models import Kind  # noqa: E402
from kb.core.settings import Settings  # noqa: E402
from kb.knowledge import KnowledgeBase, open_kb  # noqa: E402
from kb.retrieval.evaluation import LabelledQuery, evaluate, load_queries  # noqa: E402
from kb.retrieval.search import Mode, Query  # noqa: E402

MODES: tuple[Mode, ...] = ("hybrid", "bm25", "dense")
METRICS = ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10")
K8S, MOJ = "k8s-alert-runbook", "moj-cloud-platform"
#: how each corpus is ingested: (sub-folder or "" for the whole corpus, kind or None to infer it)
LAYOUT: dict[str, tuple[tuple[str, Kind | None], ...]] = {
    K8S: (("", None),),
    MOJ: (("postmortems", Kind.postmortem), ("runbooks", Kind.runbook)),
}


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def query_sets(eval_dir: Path) -> dict[str, dict[str, list[LabelledQuery]]]:
    """corpus name -> set name -> labelled queries, for every set found under ``eval_dir``."""
    sets: dict[str, dict[str, list[LabelledQuery]]] = {}
    k8s = eval_dir / K8S
    for name in ("queries.jsonl", "queries_description_only.jsonl"):
        if (k8s / name).is_file():
            sets.setdefault(K8S, {})[name] = load_queries(k8s / name)
    moj = eval_dir / MOJ
    if (moj / "ask.jsonl").is_file():
        asked = [LabelledQuery(q["id"], q["question"], [q["doc"]]) for q in _jsonl(moj / "ask.jsonl") if q.get("doc")]
        sets.setdefault(MOJ, {})["ask.jsonl"] = asked
    if (moj / "similar.jsonl").is_file():
        similar = [
            LabelledQuery(
                q["id"],
                (moj / "corpus" / q["query_doc"]).read_text(encoding="utf-8"),
                list(q["relevant"]),
                [q["query_doc"]],
            )
            for q in _jsonl(moj / "similar.jsonl")
        ]
        sets.setdefault(MOJ, {})["similar.jsonl"] = similar
    return sets


@contextmanager
def opened(corpus: Path, name: str, store: Path | None) -> Iterator[KnowledgeBase]:
    """The corpus's knowledge base in ``store`` (or a temporary folder), ingested when it holds nothing."""
    with tempfile.TemporaryDirectory(prefix="eval-retrieval-") as tmp:
        settings = Settings(data_dir=(store or Path(tmp)).resolve(), chroma_url=None)
        kb = open_kb(settings, llm=False)
        if kb.store.count_records() == 0:
            for folder, kind in LAYOUT[name]:
                print(f"ingesting {corpus / folder}", file=sys.stderr, flush=True)
                Ingestor.into(kb).run([corpus / folder], kind=kind)
        yield kb


def measure(kb: KnowledgeBase, corpus: Path, queries: list[LabelledQuery]) -> dict[str, dict[str, float]]:
    """Mean metrics of each retriever over the queries."""
    root = corpus.resolve()
    path_of = {rid: str(Path(m.source_path).resolve().relative_to(root)) for rid, m in kb.store.record_index().items()}
    out: dict[str, dict[str, float]] = {}
    for mode in MODES:

        def rank(text: str, n: int, mode: Mode = mode) -> list[str]:
            return [path_of.get(rid, rid) for rid, _s, _h in kb.searcher.rank(Query(text=text, k=n), mode)[:n]]

        metrics = evaluate(queries, rank, 10)
        out[mode] = {m: round(metrics[m], 3) for m in METRICS}
    return out


def table(results: dict[str, dict[str, dict[str, float]]]) -> str:
    """A markdown table: one row per set and retriever."""
    lines = ["| set | retriever | R@1 | R@5 | R@10 | MRR@10 | nDCG@10 |", "|---|---|---|---|---|---|---|"]
    for set_name, by_mode in results.items():
        for n, mode in enumerate(MODES):
            cells = " | ".join(f"{by_mode[mode][m]:.3f}" for m in METRICS)
            lines.append(f"| {set_name if n == 0 else ''} | {mode} | {cells} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--eval-dir", type=Path, required=True, help="the shared evaluation folder")
    ap.add_argument("--store", action="append", default=[], metavar="CORPUS=DIR", help="reuse a store per corpus")
    ap.add_argument("--only", action="append", default=[], metavar="SET", help="measure only these sets")
    ap.add_argument("--json", action="store_true", help="print the metrics as JSON")
    args = ap.parse_args()
    for key in [k for k in os.environ if k.startswith(("KB_", "OPENAI_"))]:
        del os.environ[key]  # measured with no LLM and the default settings
    stores = {name: Path(folder) for name, _, folder in (s.partition("=") for s in args.store)}
    results: dict[str, dict[str, dict[str, float]]] = {}
    for corpus_name, sets in query_sets(args.eval_dir.resolve()).items():
        chosen = {n: q for n, q in sets.items() if not args.only or n in args.only}
        if not chosen:
            continue
        corpus = args.eval_dir.resolve() / corpus_name / "corpus"
        with opened(corpus, corpus_name, stores.get(corpus_name)) as kb:
            for set_name, queries in chosen.items():
                results[f"{corpus_name} {set_name}"] = measure(kb, corpus, queries)
    print(json.dumps(results, indent=1) if args.json else table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
