"""Fusion on fixed rankings, and the evaluation metrics on a tiny hand-checked set."""

from __future__ import annotations

import math

import pytest

from kb.core.models import Chunk, Hit
from kb.retrieval.evaluation import LabelledQuery, evaluate, scores
from kb.retrieval.search import _Doc, _group, fuse


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


def ranking(*docs: tuple[str, float]) -> list[tuple[str, _Doc]]:
    return [(rid, _Doc(score=score, hits=[hit(rid, score)])) for rid, score in docs]


def test_fuse_rewards_documents_both_retrievers_rank_high() -> None:
    dense = ranking(("a", 0.9), ("b", 0.8), ("c", 0.7))
    keyword = ranking(("c", 9.0), ("b", 8.0), ("d", 1.0))
    fused = fuse([(1.0, dense), (1.0, keyword)])
    order = [rid for rid, _s, _h in fused]
    assert set(order[:2]) == {"b", "c"} and order.index("a") > order.index("b")  # found by both beats first in one
    assert all(s < 1.0 for _r, s, _h in fused) and {h.chunk.record_id for h in fused[0][2]} == {order[0]}


def test_fuse_breaks_a_rank_tie_by_the_retrievers_confidence() -> None:
    # a and b tie on ranks (1st + 2nd each); a leads dense by far, b leads BM25 only narrowly
    dense = ranking(("a", 0.9), ("b", 0.5), ("c", 0.45), ("d", 0.4))
    keyword = ranking(("b", 10.0), ("a", 9.9), ("c", 2.0), ("d", 1.0))
    order = [rid for rid, _s, _h in fuse([(1.0, dense), (1.0, keyword)])]
    assert order[:2] == ["a", "b"]
    # the same tie the other way round: now b is the clear winner of its retriever
    dense = ranking(("a", 0.51), ("b", 0.5), ("c", 0.45), ("d", 0.4))
    keyword = ranking(("b", 10.0), ("a", 3.0), ("c", 2.0), ("d", 1.0))
    order = [rid for rid, _s, _h in fuse([(1.0, dense), (1.0, keyword)])]
    assert order[:2] == ["b", "a"]


def test_fuse_leaves_out_excluded_documents_and_ranks_by_score_for_one_retriever() -> None:
    only = ranking(("a", 3.0), ("b", 2.0), ("c", 1.0))
    fused = fuse([(1.0, only)], exclude=["a"], reciprocal=False)
    assert [(rid, s) for rid, s, _h in fused] == [("b", 2.0), ("c", 1.0)]
    # excluded documents do not take a rank: b is ranked first and scores 1.0
    assert fuse([(1.0, only)], exclude=["a"])[0][:2] == ("b", 1.0)


def test_newest_first_sorts_by_date_and_keeps_undated_documents_last_in_relevance_order() -> None:
    from datetime import date

    from kb.core.models import Kind, RankedDocument, RecordSummary
    from kb.retrieval.search import newest_first

    def doc(rid: str, day: date | None) -> RankedDocument:
        return RankedDocument(record=RecordSummary(id=rid, kind=Kind.postmortem, title=rid, date=day), score=1.0)

    ranked = [doc("u1", None), doc("old", date(2023, 1, 1)), doc("u2", None), doc("new", date(2025, 6, 1))]
    assert [d.record.id for d in newest_first(ranked)] == ["new", "old", "u1", "u2"]


@pytest.mark.parametrize(
    ("question", "latest"),
    [
        ("how did we fix the last redis failover?", True),
        ("what happened in the most recent checkout outage?", True),
        ("the latest kafka lag incident", True),
        ("what did we do last time pgbouncer ran out of connections?", True),
        ("checkout errors in the last 10 minutes", False),
        ("disk filled up over the last few days", False),
        ("pods restarted 5 times in the last hour", False),
        ("how do I check the pgbouncer pools?", False),
    ],
)
def test_questions_about_the_latest_occurrence_are_recognised(question: str, latest: bool) -> None:
    from kb.generation.question import LATEST

    assert bool(LATEST.search(question)) is latest
