"""Calibrate the relevance label of search results (kb.retrieval.relevance) on labelled queries: search each
query, and for every one of the top results record what the label is read from (the cosine of the query and the
document's closest passage, the share of the query's words it holds, and their mean, ``match``) with whether the
set calls the document relevant; then print how well each, and the fused score the UI used to show, separate
relevant from irrelevant results (ROC AUC), and what each label holds at the chosen thresholds.

    python scripts/calibrate_relevance.py [--k8s DATA_DIR] [--moj DATA_DIR] [--k 10] [--rows FILE] [--grid]

Each DATA_DIR is a store the set's corpus was ingested into (KB_DATA_DIR=DIR kb ingest ...):
- --k8s: ../shared/eval/k8s-alert-runbook/corpus; queries.jsonl (alert texts) and
  queries_description_only.jsonl (descriptions), relevant = the alert's runbooks.
- --moj: ../shared/eval/moj-cloud-platform/corpus/{postmortems,runbooks} (with --kind); ask.jsonl (questions;
  the ten unanswerable ones have no relevant document) and similar.jsonl (the query report's title as the
  query, the report itself left out; relevant = the related reports and runbooks).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kb.core.settings import Settings  # noqa: E402
from kb.knowledge import KnowledgeBase, open_kb  # noqa: E402
from kb.retrieval.relevance import match, relevance  # noqa: E402
from kb.retrieval.search import Query  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval"


def _lines(path: Path) -> Iterator[dict[str, object]]:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            yield json.loads(line)


def _kb(data_dir: Path) -> KnowledgeBase:
    settings = Settings(data_dir=data_dir, chroma_url=None, _env_file=None)  # type: ignore[call-arg]
    return open_kb(settings, llm=False).load()


def _observe(kb: KnowledgeBase, corpus: Path, set_name: str, queries: list[tuple[str, str, set[str], set[str]]],
             k: int) -> list[dict[str, object]]:
    """One row per (query, result): the set, query id, rank, cosine, fused score, relevant."""
    root = corpus.resolve()
    path_of = {rid: str(Path(m.source_path).resolve().relative_to(root)) for rid, m in kb.record_metas().items()}
    rows: list[dict[str, object]] = []
    for qid, text, relevant, exclude in queries:
        excluded = tuple(rid for rid, p in path_of.items() if p in exclude)
        found = kb.measured(text, kb.search(Query(text=text, k=k, exclude=excluded)))
        for rank, doc in enumerate(found, start=1):
            path = path_of.get(doc.record.id, doc.record.id)
            rows.append({"set": set_name, "query": qid, "rank": rank, "cosine": doc.cosine, "coverage": doc.coverage,
                         "match": match(doc), "score": doc.score,
                         "label": relevance(doc).name,
                         "relevant": path in relevant, "answerable": bool(relevant)})
    return rows


def k8s_rows(data_dir: Path, k: int) -> list[dict[str, object]]:
    base = EVAL / "k8s-alert-runbook"
    kb = _kb(data_dir)
    rows = []
    for name in ("queries.jsonl", "queries_description_only.jsonl"):
        qs = [(str(q["id"]), str(q["query"]), set(q["relevant"]), set(q.get("exclude") or []))  # type: ignore[call-overload]
              for q in _lines(base / name)]
        rows += _observe(kb, base / "corpus", f"k8s {name.removesuffix('.jsonl')}", qs, k)
    return rows


def moj_rows(data_dir: Path, k: int) -> list[dict[str, object]]:
    base = EVAL / "moj-cloud-platform"
    kb = _kb(data_dir)
    corpus = base / "corpus"
    asks = [(str(q["id"]), str(q["question"]), {str(q["doc"])} if q.get("doc") else set(), set[str]())
            for q in _lines(base / "ask.jsonl")]
    rows = _observe(kb, corpus, "moj ask", asks, k)
    titles = {str(Path(m.source_path).resolve().relative_to(corpus.resolve())): m.title
              for m in kb.record_metas().values()}
    sims = [(str(q["id"]), titles[str(q["query_doc"])], set(q["relevant"]), {str(q["query_doc"])})  # type: ignore[call-overload]
            for q in _lines(base / "similar.jsonl") if str(q["query_doc"]) in titles]
    return rows + _observe(kb, corpus, "moj similar (titles)", sims, k)


def auc(rows: list[dict[str, object]], key: str) -> float:
    """ROC AUC: the chance that a relevant result has a higher ``key`` than an irrelevant one (ties count half);
    a missing cosine counts as the lowest value."""
    def value(r: dict[str, object]) -> float:
        v = r[key]
        return float(v) if isinstance(v, (int, float)) else -1.0
    pos = sorted(value(r) for r in rows if r["relevant"])
    neg = sorted(value(r) for r in rows if not r["relevant"])
    if not pos or not neg:
        return float("nan")
    wins = 0.0
    for p in pos:
        below = sum(1 for n in neg if n < p)
        ties = sum(1 for n in neg if n == p)
        wins += below + ties / 2
    return wins / (len(pos) * len(neg))


def table(rows: list[dict[str, object]]) -> dict[str, dict[str, float]]:
    """Per label: how many results, the share of them that is relevant, and the share of all relevant results
    it holds; and for the top result of each query, the same."""
    out: dict[str, dict[str, float]] = {}
    relevant_total = sum(1 for r in rows if r["relevant"]) or 1
    for label in ("strong", "partial", "weak"):
        these = [r for r in rows if r["label"] == label]
        rel = sum(1 for r in these if r["relevant"])
        tops = [r for r in these if r["rank"] == 1]
        out[label] = {
            "results": len(these),
            "precision": round(rel / len(these), 3) if these else float("nan"),
            "share_of_relevant": round(rel / relevant_total, 3),
            "top1_results": len(tops),
            "top1_precision": round(sum(1 for r in tops if r["relevant"]) / len(tops), 3) if tops else float("nan"),
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--k8s", type=Path)
    ap.add_argument("--moj", type=Path)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--rows", type=Path, help="write every observation here (JSON lines)")
    ap.add_argument("--grid", action="store_true", help="also print precision and coverage over a grid of thresholds")
    args = ap.parse_args()
    rows: list[dict[str, object]] = []
    if args.k8s:
        rows += k8s_rows(args.k8s, args.k)
    if args.moj:
        rows += moj_rows(args.moj, args.k)
    if args.rows:
        args.rows.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    sets = sorted({str(r["set"]) for r in rows})
    for name in [*sets, "all"]:
        these = rows if name == "all" else [r for r in rows if r["set"] == name]
        print(f"== {name}: {len({(r['set'], r['query']) for r in these})} queries, {len(these)} results, "
              f"{sum(1 for r in these if r['relevant'])} relevant")
        keys = ("match", "cosine", "coverage", "score")
        print("   ROC AUC: " + "   ".join(f"{key} {auc(these, key):.3f}" for key in keys)
              + "   (score: the fused score shown before)")
        unanswerable = [r for r in these if not r["answerable"] and r["rank"] == 1]
        if unanswerable:
            labels = [str(r["label"]) for r in unanswerable]
            print(f"   top result of the {len(unanswerable)} unanswerable queries: "
                  + ", ".join(f"{labels.count(x)} {x}" for x in ("strong", "partial", "weak")))
        for label, figures in table(these).items():
            print(f"   {label:8s} {json.dumps(figures)}")
    if args.grid:
        print("== grid (all): threshold, results at or above, precision, share of relevant")
        total = sum(1 for r in rows if r["relevant"]) or 1
        for t in [x / 100 for x in range(30, 80, 3)]:
            above = [r for r in rows if float(r["match"]) >= t]  # type: ignore[arg-type]
            rel = sum(1 for r in above if r["relevant"])
            print(f"   {t:.2f} {len(above):5d} {rel / len(above) if above else float('nan'):.3f} {rel / total:.3f}")


if __name__ == "__main__":
    main()
