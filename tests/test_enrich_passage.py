"""The runbook for a firing alert opens at the passage an on-call engineer should land on: of the passages that
matched, one in a procedure or diagnosis section, and its references or a list of links only when nothing else
matched. Over the sample corpus ingested with the real model (the store and knowledge base of
tests/test_alert_enrich.py), and ``landing`` itself on passages of each kind."""

from __future__ import annotations

import pytest

from kb.alerting.enrich import LABELS, alert_query, best_runbook, enrich, landing
from kb.alerting.models import RunbookMatch
from kb.core.models import Chunk, Hit, Kind
from kb.knowledge import KnowledgeBase
from kb.retrieval.relevance import relevance
from kb.retrieval.search import Query
from tests.test_alert_enrich import PGBOUNCER, group_of, kb, store  # noqa: F401 - kb and store are fixtures

#: the PgBouncer alert as a team might word it: its words are the ones the runbook's References list repeats
#: (the postmortems it names: "orders-db connection exhaustion", "PgBouncer saturation")
SATURATION = {
    "labels": {"alertname": "PgBouncerPoolExhausted", "severity": "critical", "namespace": "data"},
    "annotations": {"summary": "PgBouncer pool saturation on orders-db",
                    "description": "orders-db connection exhaustion, too many clients"},
}
RUNBOOK = "pgbouncer-pool-exhausted"
#: the section types of what to check and what to do
PROCEDURES = {"triage", "diagnosis", "mitigation", "resolution"}


def opened_section(base: KnowledgeBase, runbook: RunbookMatch) -> tuple[str, str]:
    """The name of the runbook's section holding the offset it opens at, and that section's text from there."""
    record = base.record(runbook.doc_id)
    assert runbook.start is not None
    section = next(s for s in record.sections if s.start <= runbook.start < s.end)
    return section.name, record.text[runbook.start : section.end]


def assert_shown_from(why: str, text: str) -> None:
    """The passage shown is that text's own words, from its start."""
    shown = why.removesuffix(" …")
    assert len(shown) > 40 and " ".join(text.split()).startswith(shown), (why, text[:300])


@pytest.mark.slow
def test_a_runbook_whose_best_passage_is_its_references_opens_at_its_procedure(kb: KnowledgeBase) -> None:  # noqa: F811
    group = group_of(SATURATION)
    raw = best_runbook(kb, alert_query(group))
    assert raw is not None and raw.record.id == RUNBOOK
    assert raw.hits[0].chunk.section == "references"  # what the alert's words match best is the list of postmortems
    runbook = enrich(kb, group).runbook
    assert runbook is not None and runbook.doc_id == RUNBOOK
    name, text = opened_section(kb, runbook)
    assert name in PROCEDURES, name
    assert_shown_from(runbook.why, text)
    assert "References" not in runbook.why and "Postmortem 2023-03-09" not in runbook.why


@pytest.mark.slow
def test_the_alert_lands_on_a_procedure_and_keeps_the_label_search_gives_it(kb: KnowledgeBase) -> None:  # noqa: F811
    group = group_of(PGBOUNCER)
    runbook = enrich(kb, group).runbook
    assert runbook is not None and runbook.doc_id == RUNBOOK
    name, text = opened_section(kb, runbook)
    assert name in PROCEDURES, name
    assert_shown_from(runbook.why, text)
    # the label is measured on the passages a search shows, however many the landing passage is chosen from
    query = alert_query(group)
    searched = kb.measured(query.text, kb.search(Query(text=query.text, k=3, kinds=(Kind.runbook,))))
    assert runbook.relevance == LABELS[relevance(next(d for d in searched if d.record.id == RUNBOOK))]


def passage(section: str, text: str, start: int) -> Hit:
    chunk = Chunk(id=f"rb:{start}", record_id="rb", section=section, start=start, end=start + len(text), text=text)
    return Hit(chunk=chunk, score=0.5, retriever="hybrid")


REFERENCES = passage("references", "## References\n\n- Postmortem 2023-03-09: orders-db connection exhaustion", 900)
LINKS = passage("other", "## Dashboards and logs\n\n- [Grafana: PgBouncer pools](https://grafana.example/d/pgb)\n"
                "- [Kibana: orders-db](https://kibana.example/app/orders-db)\n"
                "- [Alert rule](https://git.example/alerts/pgbouncer.yaml)\n", 800)
SYMPTOMS = passage("symptoms", "## Symptoms\n\n`PgBouncerPoolExhausted` pages when clients wait for 2 minutes.", 100)
OVERVIEW = passage("overview", "## Overview\n\nPgBouncer pools connections to orders-db in transaction mode.", 0)
MITIGATION = passage("mitigation", "## Mitigation\n\n1. Raise `default_pool_size` within the budget and RELOAD.", 500)
TRIAGE = passage("triage", "## Triage\n\n1. Run `SHOW POOLS;` on every PgBouncer pod.", 300)
COMMANDS = passage("other", "## Notes\n\nThe pool settings live in the ConfigMap; see [the chart](https://git.example/"
                   "chart) for the defaults, and raise them only after checking the connection budget by hand.", 700)


def test_a_procedure_passage_comes_before_better_matches_of_other_kinds() -> None:
    assert landing([REFERENCES, SYMPTOMS, MITIGATION]) is MITIGATION
    assert landing([LINKS, OVERVIEW, TRIAGE, MITIGATION]) is TRIAGE  # the best procedure passage
    assert landing([SYMPTOMS, OVERVIEW]) is SYMPTOMS  # no procedure matched: the best that is content


def test_references_and_link_lists_only_when_nothing_else_matched() -> None:
    assert landing([REFERENCES, OVERVIEW]) is OVERVIEW
    assert landing([LINKS, REFERENCES, OVERVIEW]) is OVERVIEW  # a list of links, whatever its heading was called
    assert landing([COMMANDS, SYMPTOMS]) is COMMANDS  # a link inside prose is not a list of links
    assert landing([LINKS, REFERENCES]) is LINKS
    assert landing([REFERENCES]) is REFERENCES
    assert landing([]) is None
