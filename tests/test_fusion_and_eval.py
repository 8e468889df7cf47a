"""Fusion on fixed rankings, and the evaluation metrics on a tiny hand-checked set."""

from __future__ import annotations

import math

import pytest

from kb.evaluation import LabelledQuery, evaluate, scores
from kb.models import Chunk, Hit
from kb.search import _group


def hit(record: str, score: float, n: int = 0) -> Hit:
    chunk = Chunk(id=f"{record}:abc:{n}", record_id=record, section="s", start=0, end=1, text="x")
    return Hit(chunk=chunk, score=score, retriever="dense")


def test_group_scores_a_document_by_its_best_passage() -> None:
    ranked = _group([hit("a", 0.5), hit("b", 0.9), hit("a", 0.95, 1), hit("c", 0.1)])
    assert [rid for rid, _ in ranked] == ["a", "b", "c"]
    assert ranked[0][1].score == 0.95 and len(ranked[0][1].hits) == 2


def test_metrics_by_hand() -> None:
    s = scores(["x", "a", "y", "b"], ["a", "b"], k=10)
    assert s["recall@1"] == 0.0 and s["recall@5"] == 1.0
    assert s["mrr@10"] == 0.5
    assert s["precision@10"] == pytest.approx(0.2)
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    assert s["ndcg@10"] == pytest.approx(dcg / (1 + 1 / math.log2(3)))
    assert s["s@10"] == 1.0
    assert scores(["x"], ["a"])["s@10"] == 0.0


def test_evaluate_drops_excluded_documents_before_scoring() -> None:
    queries = [LabelledQuery("q1", "anything", ["b"], exclude=["a"]), LabelledQuery("q2", "other", ["z"])]
    rankings = {"anything": ["a", "b", "c"], "other": ["c", "d"]}
    result = evaluate(queries, lambda text, n: rankings[text][:n])
    assert result["recall@1"] == 0.5  # q1: 'a' is excluded so 'b' is first; q2 misses
    assert result["mrr@10"] == 0.5
