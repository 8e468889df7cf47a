"""Enriching a firing alert: past incidents, the runbook and a cited "what helped last time", over the sample
corpus ingested with the real embedding model (and, for the LLM path, a real OpenAI-compatible HTTP server)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from kb.alerting.enrich import as_json, enrich, group_of_alert
from kb.alerting.models import AlertGroup, Enrichment
from kb.clients.openai_client import ChatModel
from kb.core.settings import Settings
from kb.knowledge import KnowledgeBase, open_kb
from kb.retrieval.alerts import parse_alert
from tests.conftest import sample_store_copy
from tests.openai_server import OpenAIServer, Reply, lines_reply, passages_of

pytestmark = pytest.mark.slow

#: an Alertmanager webhook as the sample team's PgBouncer alert sends it (data/chats/2026-01-21-...)
PGBOUNCER = {
    "receiver": "kb", "status": "firing", "groupKey": '{}:{alertname="PgBouncerPoolExhausted"}',
    "alerts": [{
        "status": "firing",
        "labels": {"alertname": "PgBouncerPoolExhausted", "severity": "critical", "namespace": "data",
                   "pool": "orders/orders_app", "cluster": "prod-eu-1"},
        "annotations": {"summary": "PgBouncer pool orders/orders_app has had waiting clients for more than 2m",
                        "description": "cl_waiting above 50 on pgbouncer-orders; sv_active at the pool size"},
    }],
}
UNRELATED = {
    "labels": {"alertname": "PrinterTonerLow", "severity": "info", "team": "facilities"},
    "annotations": {"summary": "The third-floor office printer is low on toner",
                    "description": "Order a new magenta cartridge for the reception printer"},
}
PGBOUNCER_INCIDENT = "2026-01-21-pgbouncer-idle-in-transaction-postmortem"
MARK = re.compile(r"\[(\d+)\]")


def group_of(payload: dict[str, Any]) -> AlertGroup:
    group = group_of_alert(json.dumps(payload))
    assert group.text == parse_alert(json.dumps(payload)).text and group.source == "api"
    return group


@pytest.fixture(scope="module")
def store(pristine_sample_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sample_store_copy(pristine_sample_store, tmp_path_factory.mktemp("enrich") / "store")


@pytest.fixture(scope="module")
def kb(store: Path, real_embedding) -> KnowledgeBase:  # type: ignore[no-untyped-def]
    return open_kb(Settings(data_dir=store, _env_file=None), llm=False, embedding=real_embedding)  # type: ignore[call-arg]


@pytest.fixture(scope="module")
def pgbouncer(kb: KnowledgeBase) -> Enrichment:
    return enrich(kb, group_of(PGBOUNCER))


def sentences(paragraph: str) -> list[str]:
    """The paragraph's own sentences (the documents' words it quotes, in curly quotes, are not split)."""
    return re.split(r"(?<=\.)\s+(?=[A-Z])", re.sub("\u201c[^\u201d]*\u201d", "\u201c\u2026\u201d", paragraph))


def assert_citations_resolve(kb: KnowledgeBase, enrichment: Enrichment) -> None:
    """Every [n] marker names a citation, every citation is marked, and its quote is the document's own words
    at its offset."""
    marks = {int(n) for n in MARK.findall(enrichment.helped)}
    assert marks == {c.n for c in enrichment.citations}
    for c in enrichment.citations:
        assert c.start is not None and c.quote.strip()
        assert kb.record(c.doc_id).text[c.start :].startswith(c.quote), (c.doc_id, c.start, c.quote)


def test_the_matching_incident_comes_first_one_row_per_incident(kb: KnowledgeBase, pgbouncer: Enrichment) -> None:
    rows = pgbouncer.incidents
    assert rows and rows[0].doc_id == PGBOUNCER_INCIDENT and rows[0].relevance == "strong"
    assert rows[0].date == "2026-01-21" and rows[0].severity == "SEV2" and "orders-db" in rows[0].services
    # its chat log is the same incident: folded into its row, never a row of its own
    chat = "2026-01-21-pgbouncer-idle-in-transaction"
    assert chat in rows[0].others and chat not in [r.doc_id for r in rows]
    ids = [r.doc_id for r in rows] + [o for r in rows for o in r.others]
    assert len(ids) == len(set(ids))
    assert all(r.relevance in ("strong", "partial") for r in rows)
    first = rows[0]
    assert first.start is not None and first.why
    assert " ".join(kb.record(first.doc_id).text[first.start :].split()).startswith(first.why.rstrip(" …")[:40])


def test_the_runbook_opens_at_a_passage_about_the_alert(kb: KnowledgeBase, pgbouncer: Enrichment) -> None:
    runbook = pgbouncer.runbook
    assert runbook is not None and runbook.doc_id == "pgbouncer-pool-exhausted" and runbook.relevance == "strong"
    record = kb.record(runbook.doc_id)
    assert runbook.start is not None and 0 < runbook.start < len(record.text)
    section = next(s for s in record.sections if s.start <= runbook.start < s.end)
    passage = record.text[runbook.start : section.end].lower()
    assert "cl_waiting" in passage or "pool" in passage


def test_what_helped_is_cited_and_a_step_that_made_it_worse_is_only_a_caution(
    kb: KnowledgeBase, pgbouncer: Enrichment
) -> None:
    helped = pgbouncer.helped
    assert helped and pgbouncer.written_by == "the documents (no LLM)"
    assert_citations_resolve(kb, pgbouncer)
    incident = kb.record(PGBOUNCER_INCIDENT)
    cited = {c.n: c for c in pgbouncer.citations}
    own = [c for c in pgbouncer.citations if c.doc_id == PGBOUNCER_INCIDENT]
    assert any("orders.confirm-eta-enrichment" in c.quote for c in own)  # the fix of the most similar incident
    # raising the pool made things worse on 2026-01-21: every sentence citing that step is a caution
    raise_at = incident.text.index("Aisha sets `default_pool_size` 110 -> 120")
    raised = [n for n, c in cited.items()
              if c.doc_id == PGBOUNCER_INCIDENT and c.start is not None and c.start <= raise_at < c.start + len(c.quote)]
    for sentence in sentences(helped):
        if any(int(n) in raised for n in MARK.findall(sentence)):
            assert sentence.startswith("Caution") and "made things worse" in sentence, sentence
    assert json.loads(json.dumps(as_json(pgbouncer)))["citations"][0]["n"] == 1


def test_what_helped_cites_both_steps_of_the_fix(pgbouncer: Enrichment) -> None:
    own = [c for c in pgbouncer.citations if c.doc_id == PGBOUNCER_INCIDENT]
    assert any("terminat" in c.quote for c in own)


def test_what_helped_names_the_step_that_made_it_worse(kb: KnowledgeBase, pgbouncer: Enrichment) -> None:
    incident = kb.record(PGBOUNCER_INCIDENT)
    raise_at = incident.text.index("Aisha sets `default_pool_size` 110 -> 120")
    assert [c for c in pgbouncer.citations if c.doc_id == PGBOUNCER_INCIDENT and c.start is not None
            and c.start <= raise_at < c.start + len(c.quote)]
    # the runbook's first step raises the pool too: it is not given as advice either
    runbook_marks = [c.n for c in pgbouncer.citations if c.doc_id == "pgbouncer-pool-exhausted"]
    for sentence in sentences(pgbouncer.helped):
        if any(int(n) in runbook_marks for n in MARK.findall(sentence)):
            assert sentence.startswith("Caution"), sentence


def test_an_unrelated_alert_gets_no_strong_incident(kb: KnowledgeBase) -> None:
    enrichment = enrich(kb, group_of(UNRELATED))
    assert not [r for r in enrichment.incidents if r.relevance == "strong"]
    assert enrichment.runbook is None or enrichment.runbook.relevance != "strong"
    assert_citations_resolve(kb, enrichment)


def test_an_empty_store_gives_an_empty_enrichment(tmp_path: Path, real_embedding) -> None:  # type: ignore[no-untyped-def]
    empty = open_kb(Settings(data_dir=tmp_path / "kb", _env_file=None), llm=False,  # type: ignore[call-arg]
                    embedding=real_embedding)
    enrichment = enrich(empty, group_of(PGBOUNCER))
    assert enrichment.incidents == () and enrichment.runbook is None
    assert enrichment.helped == "" and enrichment.citations == ()
    assert as_json(enrichment)["incidents"] == []


def test_with_an_llm_its_paragraph_is_used_and_an_invented_citation_is_not(
    store: Path, real_embedding  # type: ignore[no-untyped-def]
) -> None:
    def respond(request: dict[str, Any]) -> str:
        passages = passages_of(request)
        pid, text = next(iter(passages.items()))
        said = " ".join(text.split())[:150]
        return lines_reply([
            {"section": "helped", "text": f"Last time this fixed it: {said}", "cites": [pid]},
            {"section": "helped", "text": "Restart every PgBouncer pod at once and drop the database.",
             "cites": [f"P{len(passages) + 7}"]},
        ])

    settings = Settings(data_dir=store, _env_file=None)  # type: ignore[call-arg]
    with OpenAIServer([Reply(respond=respond)], model="m") as server:
        llm = ChatModel(Settings(_env_file=None, llm_base_url=server.base_url, llm_model="m"))  # type: ignore[call-arg]
        kb = KnowledgeBase(settings, embedding=real_embedding, llm=llm)
        enrichment = enrich(kb, group_of(PGBOUNCER))
        assert server.requests, "the LLM was asked"
    assert "(LLM)" in enrichment.written_by and enrichment.helped.startswith("Last time this fixed it:")
    assert "drop the database" not in enrichment.helped
    assert len(enrichment.citations) == 1
    assert_citations_resolve(kb, enrichment)
    # a model that cites only passages it was not given is refused: the paragraph from the documents is given
    invented = lines_reply([{"section": "helped", "text": "Scale the pool to 1000.", "cites": ["P99"]}])
    with OpenAIServer([Reply(content=invented)], model="m") as server:
        llm = ChatModel(Settings(_env_file=None, llm_base_url=server.base_url, llm_model="m"))  # type: ignore[call-arg]
        fallback = enrich(KnowledgeBase(settings, embedding=real_embedding, llm=llm), group_of(PGBOUNCER))
    assert fallback.written_by.startswith("the documents (no LLM): the LLM's paragraph was not used")
    assert "1000" not in fallback.helped and fallback.helped.startswith("In the most similar past incident")
    assert_citations_resolve(kb, fallback)
