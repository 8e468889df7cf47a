"""The Search page's pure parts: passages cut and rendered for a result card (ui/web/passages.py), the search as
an address (ui/web/search_state.py) and the relevance label (kb/retrieval/relevance.py)."""

from __future__ import annotations

import datetime as dt

from kb.core.models import Kind, RankedDocument, RecordSummary
from kb.retrieval.relevance import PARTIAL_MATCH, STRONG_MATCH, Relevance, measured, relevance
from ui.web.passages import cut, highlight_line, passage_parts
from ui.web.search_state import DEFAULT_K, SearchState, from_params

RUNBOOK = """## Mitigation

Check the pool first, then decide:

```bash
kubectl -n data exec -it pgbouncer-orders-0 -- psql -p 6432 -U pgbouncer pgbouncer -c 'SHOW POOLS;'
```

### Raise the pool

Raise `default_pool_size` only after the arithmetic. <img src=x onerror=alert(1)> ![pixel](http://x/p.png)
"""


def test_a_cut_falls_at_a_line_end_and_never_inside_a_command() -> None:
    command = "kubectl -n data exec -it pgbouncer-orders-0 -- psql -p 6432 -U pgbouncer pgbouncer -c 'SHOW POOLS;'"
    text = "Intro line.\n```bash\n" + command + "\n" + command + "\n```\nafter"
    shown, was_cut = cut(text, len("Intro line.\n```bash\n") + len(command) + 20)
    assert was_cut and shown.endswith(command) and shown.count(command) == 1
    prose = "word " * 200
    shown, was_cut = cut(prose, 100)
    assert was_cut and shown.endswith("word") and len(shown) <= 100
    assert cut("short", 100) == ("short", False)


def test_a_line_run_at_a_prompt_or_in_an_indented_block_is_never_cut() -> None:
    command = "kubectl -n data exec -it pgbouncer-orders-0 -- psql -p 6432 -U pgbouncer pgbouncer -c 'SHOW POOLS;'"
    for line in (f"$ {command}", f"orders=# {command}", f"    {command}"):
        assert cut(line + "\nthen wait", 60) == (line, True), line  # the whole line, past the limit
        assert cut("Run this:\n\n" + line + "\nthen wait", 60) == ("Run this:", True), line  # or none of it
    shown, was_cut = cut(command + "\nthen wait", 60)  # a line of prose is cut at a word
    assert was_cut and command.startswith(shown) and len(shown) <= 60


def test_headings_are_read_by_the_markdown_parser() -> None:
    parts = passage_parts("Impact\n======\n\nCheckout failed.\n\n```\n# not a heading\n```\n", heading="")
    assert parts[0] == (None, "**Impact**  \nCheckout failed.")
    assert ("", "# not a heading") in parts  # a shell comment inside code stays code
    parts = passage_parts("Mitigation\n----------\nRoll back.\n", heading="Mitigation")
    assert parts == [(None, "Roll back.")]  # the card names the section already


def test_passages_render_markdown_code_as_code_and_stay_inert() -> None:
    parts = passage_parts(RUNBOOK, "pool arithmetic", heading="Mitigation")
    text = "\n".join(p for lang, p in parts if lang is None)
    code = [(lang, p) for lang, p in parts if lang is not None]
    assert code == [("bash", "kubectl -n data exec -it pgbouncer-orders-0 -- psql -p 6432 -U pgbouncer pgbouncer -c "
                              "'SHOW POOLS;'")]
    assert "## " not in text and "Mitigation" not in text  # the card names the section already
    assert "**Raise the pool**" in text  # a heading inside the passage becomes a bold line
    assert "`default_pool_size`" in text  # inline code stays a code span (rendered as code)
    assert "&lt;img" in text and "!\\[pixel]" in text  # HTML and images shown as text
    assert "**pool**" in text  # a query word in bold, in plain prose


def test_every_list_item_keeps_its_marker() -> None:
    parts = passage_parts("## Symptoms\n\n- first alert\n- second alert\n", heading="Symptoms")
    assert parts == [(None, "- first alert  \n- second alert")]


def test_a_cut_passage_ends_with_an_ellipsis() -> None:
    parts = passage_parts("line one is here\n" * 100, limit=200)
    assert parts[-1] == (None, "…")
    assert len("".join(p for _, p in parts)) < 300


def test_query_words_are_bold_only_where_safe() -> None:
    words = ["pool", "exhausted"]
    assert highlight_line("the pool was exhausted", words) == "the **pool** was **exhausted**"
    assert highlight_line("run `pool exhausted` now", words) == "run `pool exhausted` now"  # code stays code
    assert highlight_line("see [the pool](http://x/pool)", words) == "see [the pool](http://x/pool)"
    assert highlight_line("*the pool* is _exhausted_", words) == "*the pool* is _exhausted_"
    assert highlight_line("pgbouncer-pool", words) == "pgbouncer-pool"  # inside an identifier


def test_the_address_holds_only_what_differs_from_the_defaults() -> None:
    assert SearchState().params() == {}
    state = SearchState(query="502 after deploy", kinds=["postmortem"], services=["checkout", "orders"],
                        since=dt.date(2024, 1, 1), k=12, newest=True)
    params = state.params()
    assert params == {"q": "502 after deploy", "kind": ["postmortem"], "service": ["checkout", "orders"],
                      "since": "2024-01-01", "k": "12", "newest": "1"}
    lists = {n: v if isinstance(v, list) else [v] for n, v in params.items()}
    back = from_params(lambda n: lists.get(n, []), [k.value for k in Kind], ["checkout", "orders"], ["SEV1"])
    assert back == state


def test_a_hostile_or_stale_address_is_read_without_error() -> None:
    given = {"q": ["x" * 20_000], "kind": ["postmortem,nonsense"], "service": ["Checkout", "gone"],
             "severity": ["sev1"], "since": ["2025-13-01"], "until": ["2024-05-01"], "k": ["999"], "newest": ["no"]}
    state = from_params(lambda n: given.get(n, []), [k.value for k in Kind], ["checkout"], ["SEV1"])
    assert state.kinds == ["postmortem"] and state.services == ["checkout"] and state.severities == ["SEV1"]
    assert state.since is None and state.until == dt.date(2024, 5, 1)
    assert state.k == 20 and not state.newest and len(state.query) == 8_000
    assert from_params(lambda n: ["abc"] if n == "k" else [], [], [], []).k == DEFAULT_K


def _doc(cosine: float | None, coverage: float | None) -> RankedDocument:
    return RankedDocument(record=RecordSummary(id="d", kind=Kind.runbook, title="t"), score=1.0, cosine=cosine,
                          coverage=coverage)


def test_the_label_depends_on_meaning_and_words_not_the_rank() -> None:
    assert relevance(_doc(STRONG_MATCH, STRONG_MATCH)) is Relevance.strong
    middle = (STRONG_MATCH + PARTIAL_MATCH) / 2
    assert relevance(_doc(middle, middle)) is Relevance.partial
    assert relevance(_doc(PARTIAL_MATCH - 0.01, PARTIAL_MATCH - 0.01)) is Relevance.weak
    # close in meaning but sharing none of the query's words is not strong, and the other way round
    assert relevance(_doc(0.8, 0.0)) is not Relevance.strong
    assert relevance(_doc(None, 1.0)) is not Relevance.strong  # the dense retriever did not find it at all
    assert relevance(_doc(None, None)) is Relevance.weak


def test_word_coverage_is_measured_where_a_label_is_shown() -> None:
    def share(words: set[str], found: set[str]) -> float:  # every word equally rare
        return len(words & found) / len(words)

    on_topic = RankedDocument(record=RecordSummary(id="a", kind=Kind.runbook, title="PgBouncer pool exhausted"),
                              score=1.0, cosine=0.6)
    off_topic = RankedDocument(record=RecordSummary(id="b", kind=Kind.runbook, title="Redis failover"), score=0.9,
                               cosine=0.6)
    docs = [on_topic, off_topic]
    found = measured(share, "pool exhausted", docs)
    assert [d.coverage for d in found] == [1.0, 0.0] and [d.coverage for d in docs] == [None, None]
    assert relevance(found[0]) is Relevance.strong and relevance(found[1]) is Relevance.weak
    assert measured(share, "", docs) == docs  # a query with no words measures nothing
