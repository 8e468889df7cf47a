"""Lines that tell what an incident does to those who use the service (kb/retrieval/examples/impact), with the
real model: the held-out split, the check set written apart from the examples, and lines in several styles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kb.generation.summary import harm_told
from kb.retrieval.meaning import accuracy, classifier

CHECKS = Path(__file__).resolve().parents[1] / "scripts" / "checks" / "impact.jsonl"


@pytest.mark.slow
def test_the_impact_examples_hold_out_well_enough() -> None:
    result = accuracy("impact")
    assert result.tested >= 150 and result.ratio >= 0.85, result.ratio
    assert set(result.per_label) == {"harm", "other"}


@pytest.mark.slow
def test_the_check_set_written_apart_is_mostly_right() -> None:
    rows = [json.loads(line) for line in CHECKS.read_text().splitlines() if line.strip()]
    verdicts = classifier("impact").classify([r["text"] for r in rows])
    right = sum((v.label or "other") == r["label"] for v, r in zip(verdicts, rows, strict=True))
    assert len(rows) >= 100 and right / len(rows) >= 0.9, right / len(rows)


@pytest.mark.slow
def test_harm_is_told_apart_from_internals_questions_and_recovery() -> None:
    harm = [
        "half the tenants in ap-south have had no dashboards since 02:00",
        "every nightly build failed, no team could ship a release today",
        "roughly 1 in 8 card payments declined at the till since noon",
    ]
    other = [
        "cpu on the primary is at 93%",
        "how many people are affected?",
        "rolling back the gateway to yesterday's build",
        "builds are green again, the queue is empty",
    ]
    told = harm_told(harm + other)
    assert all(m is not None and m > 0 for m in told[: len(harm)]), told
    assert all(m is None for m in told[len(harm) :]), told
    assert harm_told([]) == []
