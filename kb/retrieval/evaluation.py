"""Retrieval metrics on labelled queries (the format of a corpus/ folder plus queries.jsonl).

A query line: ``{"id", "query", "relevant": [doc ids], "exclude": [doc ids]?}``; a document id is its
path under the corpus folder.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kb.core.errors import ParseError


@dataclass
class LabelledQuery:
    id: str
    query: str
    relevant: list[str]
    exclude: list[str] = field(default_factory=list)


def load_queries(path: Path) -> list[LabelledQuery]:
    queries: list[LabelledQuery] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            queries.append(
                LabelledQuery(str(obj["id"]), str(obj["query"]), list(obj["relevant"]), list(obj.get("exclude") or []))
            )
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ParseError(str(path), f"line {n}: not a labelled query ({exc})") from exc
    return queries


def scores(ranked: Sequence[str], relevant: Sequence[str], k: int = 10) -> dict[str, float]:
    """Recall@1/5/10, precision@k, MRR@k, nDCG@k and success@k for one query."""
    rel = set(relevant)
    top = list(ranked[:k])
    hits = [1 if d in rel else 0 for d in top]
    out = {f"recall@{n}": sum(1 for d in ranked[:n] if d in rel) / len(rel) for n in (1, 5, 10)}
    out[f"precision@{k}"] = sum(hits) / k
    out[f"mrr@{k}"] = next((1 / (i + 1) for i, h in enumerate(hits) if h), 0.0)
    dcg = sum(h / math.log2(i + 2) for i, h in enumerate(hits))
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(rel), k)))
    out[f"ndcg@{k}"] = dcg / ideal if ideal else 0.0
    out[f"s@{k}"] = 1.0 if any(hits) else 0.0
    return out


def evaluate(
    queries: Sequence[LabelledQuery],
    rank: Callable[[str, int], list[str]],
    k: int = 10,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, float]:
    """Mean metrics of ``rank(query, n) -> doc ids`` over the queries, excludes dropped before scoring."""
    totals: dict[str, float] = {}
    for n, q in enumerate(queries, start=1):
        ranked = [d for d in rank(q.query, k + len(q.exclude)) if d not in set(q.exclude)]
        for name, value in scores(ranked, q.relevant, k).items():
            totals[name] = totals.get(name, 0.0) + value
        if progress:
            progress(n, len(queries))
    return {name: value / max(1, len(queries)) for name, value in totals.items()}
