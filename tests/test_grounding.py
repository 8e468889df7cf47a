"""Citations checked in code: what a generator may cite, and what gets dropped or refused."""

from __future__ import annotations

import pytest

from kb.core.errors import GroundingError
from kb.core.models import Citation, DraftItem, Kind, Passage
from kb.generation.grounding import Evidence, GeneratedLine, References, indent_continuation, require_grounded
from kb.text.steps import clean_step, sentences, split_steps

TEXT = (
    "## Mitigation\n\n"
    "1. Restart the pgbouncer pods one at a time:\n\n"
    "```bash\nkubectl -n data rollout restart deploy/pgbouncer\n```\n\n"
    "2. Raise default_pool_size only after checking max_connections.\n"
    "   Keep 20 connections spare.\n"
    "   - nested detail stays inside\n\n"
    "| a | b |\n|---|---|\n\n"
    "A closing paragraph. It has two sentences.\n"
)


def passages() -> Evidence:
    steps = split_steps(TEXT)
    return Evidence.numbered(
        [
            Passage(id="", doc_id="rb", kind=Kind.runbook, section="mitigation", start=s.start, end=s.end, text=s.text)
            for s in steps
        ]
    )


def test_split_steps_keeps_code_and_continuations_with_their_item() -> None:
    steps = split_steps(TEXT)
    assert [s.text.split("\n")[0] for s in steps] == [
        "1. Restart the pgbouncer pods one at a time:",
        "2. Raise default_pool_size only after checking max_connections.",
        "A closing paragraph. It has two sentences.",
    ]
    assert "rollout restart" in steps[0].text and steps[0].text.rstrip().endswith("```")
    assert "nested detail" in steps[1].text
    for step in steps:
        assert TEXT[step.start : step.end] == step.text  # spans are exact


def test_sentences_and_clean_step() -> None:
    last = split_steps(TEXT)[-1]
    parts = sentences(last)
    assert [p.text for p in parts] == ["A closing paragraph.", "It has two sentences."]
    assert all(TEXT[p.start : p.end] == p.text for p in parts)
    assert clean_step("- [ ] Alert on idle sessions (Aisha Bello, due 2026-02-06)") == "Alert on idle sessions"


def test_good_lines_are_kept_with_resolved_citations() -> None:
    ev = passages()
    lines = [GeneratedLine(section="mitigation", text="Restart the pgbouncer pods one at a time", cites=["P1"])]
    kept, dropped = ev.check_generated(lines, ["mitigation"])
    assert dropped == [] and len(kept) == 1
    c = kept[0].citations[0]
    assert (c.doc_id, c.section) == ("rb", "mitigation")
    assert TEXT[c.start : c.end].startswith("1. Restart")
    assert ev.resolves(c)


def test_quote_narrows_the_span() -> None:
    ev = passages()
    line = GeneratedLine(section="mitigation", text="check max_connections first", cites=["P2"], quote="checking max_connections")
    kept, _ = ev.check_generated([line], ["mitigation"])
    c = kept[0].citations[0]
    assert TEXT[c.start : c.end] == "checking max_connections" == c.quote


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (GeneratedLine(section="mitigation", text="Restart the pods", cites=[]), "cites no passage"),
        (GeneratedLine(section="mitigation", text="Restart the pods", cites=["P9"]), "P9, which it was not given"),
        (GeneratedLine(section="mitigation", text="Restart pods", cites=["P1", "P77"]), "P77"),
        (GeneratedLine(section="mitigation", text="Refund every order to card 4421", cites=["P1"]), "not supported"),
        (GeneratedLine(section="poetry", text="Restart the pods", cites=["P1"]), "unknown section"),
    ],
)
def test_ungrounded_lines_are_dropped_with_the_reason(line: GeneratedLine, reason: str) -> None:
    kept, dropped = passages().check_generated([line], ["mitigation"])
    assert kept == []
    assert len(dropped) == 1 and reason in dropped[0].reason


def test_nothing_grounded_is_refused() -> None:
    _, dropped = passages().check_generated([GeneratedLine(section="mitigation", text="x y z", cites=["P5"])], ["mitigation"])
    with pytest.raises(GroundingError, match="refused") as info:
        require_grounded([], dropped, "runbook draft")
    assert info.value.dropped


def test_extractive_citations_must_lie_inside_a_given_passage() -> None:
    ev = passages()
    p1 = ev.passages["P1"]
    inside = Citation(doc_id="rb", section="mitigation", start=p1.start, end=p1.start + 10, quote=p1.text[:10])
    outside = Citation(doc_id="rb", section="mitigation", start=0, end=5, quote=TEXT[:5])  # the heading: not given
    wrong_quote = Citation(doc_id="rb", section="mitigation", start=p1.start, end=p1.start + 10, quote="invented")
    other_doc = inside.model_copy(update={"doc_id": "elsewhere"})
    kept, dropped = ev.check_items(
        [DraftItem(section="mitigation", text=str(i), citations=[c]) for i, c in enumerate([inside, outside, wrong_quote, other_doc])]
    )
    assert [k.text for k in kept] == ["0"]
    assert len(dropped) == 3


def test_references_number_citations_once_and_marks_avoid_breaking_code_fences() -> None:
    refs = References()
    a = Citation(doc_id="a", section="s", start=0, end=5)
    b = Citation(doc_id="b", section="s", start=3, end=9)
    assert refs.marks([a, b]) == "[1][2]"
    assert refs.marks([b]) == "[2]"
    assert refs.lines({"a": "Doc A"})[0].startswith("[1] `a` Doc A")
    fenced = indent_continuation("```\nls\n```", "- ", "[1]")
    assert fenced.splitlines()[0] == "- [1]" and fenced.splitlines()[-1] == "  ```"
    prose = indent_continuation("Do this\nthen that", "1. ", "[2]")
    assert prose == "1. Do this\n   then that [2]"


def test_table_rows_are_spans_read_with_their_column_names() -> None:
    from kb.text.steps import table_rows

    text = (
        "Intro.\n\n| service | team | people |\n|---|:--:|---|\n| orders | Orders | - |\n"
        "| payments-gateway | Payments | Elena |\n\nAfter.\n| not | a table |\n"
    )
    rows = table_rows(text, base=100)
    assert [r.labelled for r in rows] == [
        "service: orders; team: Orders",
        "service: payments-gateway; team: Payments; people: Elena",
    ]
    assert all(text[r.span.start - 100 : r.span.end - 100] == r.span.text for r in rows)
