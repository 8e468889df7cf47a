"""`kb ask` on the sample corpus with the real model: cited answers, "not in the knowledge base", follow-ups,
the LLM path (with a model citing passages it was not given); and catch-up on a growing chat log."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ingest.sources.base import ParseOptions, redact_text
from ingest.tail import read_chat
from kb.clients.openai_client import ChatModel
from kb.core.settings import Settings
from kb.generation.ask import Conversation, ask
from kb.generation.catchup import CatchUp, catch_up
from kb.generation.quoting import quote_parts, quoted
from kb.knowledge import KnowledgeBase, open_kb
from tests.conftest import DATA, sample_store_copy
from tests.openai_server import OpenAIServer, Reply, lines_reply, passages_of

QUESTIONS = [
    ("how did we fix the last redis failover?", {"2025-01-08-session-cache-failover-2025", "redis-sentinel-failover",
                                                 "2025-01-08-session-cache-failover"}),
    ("who is the incident commander for SEV1s?", {"incident-command-and-escalation", "checkout-high-error-rate"}),
    ("has checkout ever failed after a config push?", {"2024-02-27-checkout-5xx-config-push", "inc-2024-02-27-checkout-5xx"}),
    ("what was the root cause of the black friday pgbouncer saturation?",
     {"2023-11-24-black-friday-pgbouncer-saturation", "2023-11-24-black-friday-pgbouncer"}),
    ("how do I check the pgbouncer pools?", {"pgbouncer-pool-exhausted"}),
    ("how do we roll back a bad argo cd deploy?", {"deploy-rollback-argocd"}),
    ("why did users get logged out in january 2025?", {"2025-01-08-session-cache-failover-2025",
                                                       "2025-01-08-session-cache-failover"}),
    ("what happened with the kafka consumer lag on black friday 2024?", {"2024-11-29-black-friday-kafka-lag",
                                                                         "inc-2024-11-29-kafka-lag"}),
    ("how do we stop elasticsearch indices from going read-only when the disk fills?",
     {"elasticsearch-disk-watermark", "2023-09-02-search-es-disk-flood-stage", "2025-02-19-search-es-disk-watermark-again"}),
    ("what did we do when an internal certificate expired on payments-db?",
     {"2024-06-03-internal-cert-expired-payments-db", "certificate-expiry"}),
]
UNANSWERABLE = ["what is our parental leave policy?", "how do I renew the office wifi certificate for the printers?",
                "how do we restart the mainframe batch jobs?", "who owns the data warehouse?",
                "what was the root cause of the 2022 DNS outage?", "what is the on-call phone number for the AWS TAM?"]


@pytest.fixture(scope="module")
def searcher(pristine_sample_store: Path, tmp_path_factory: pytest.TempPathFactory, real_embedding) -> KnowledgeBase:  # type: ignore[no-untyped-def]
    copy = sample_store_copy(pristine_sample_store, tmp_path_factory.mktemp("ask") / "store")
    settings = Settings(data_dir=copy, _env_file=None)  # type: ignore[call-arg]
    return open_kb(settings, embedding=real_embedding)


def resolves(searcher: KnowledgeBase, answer) -> None:  # type: ignore[no-untyped-def]
    for item in answer.items:
        assert item.citations
        for c in item.citations:
            assert searcher.store.get_record(c.doc_id).text[c.start : c.end].startswith(c.quote)


@pytest.mark.slow
@pytest.mark.parametrize(("question", "expected"), QUESTIONS, ids=[q for q, _ in QUESTIONS])
def test_ten_questions_get_cited_answers(searcher: KnowledgeBase, question: str, expected: set[str]) -> None:
    answer = ask(searcher, question)
    assert answer.found and answer.generator == "extractive", answer.answer
    assert 1 <= len(answer.items) <= 4
    resolves(searcher, answer)
    for item in answer.items:  # extractive: every line is its cited text (a table row: its cells, labelled)
        quote = item.citations[0].quote
        if quote.startswith("|"):
            assert all(cell.strip() in item.text for cell in quote.strip("|").split("|") if cell.strip() != "-")
            continue
        flat = " ".join(item.text.split())  # code, chat and list lines keep their line breaks
        assert " ".join(quote.split())[:100] in flat or flat[:100] in " ".join(
            searcher.store.get_record(item.citations[0].doc_id).text.split())
    assert set(answer.sources) & expected, (answer.sources, expected)
    assert "No LLM used" in answer.answer
    assert set(answer.as_json()) >= {"answer", "generator", "items", "sources", "confidence"}


@pytest.mark.slow
@pytest.mark.parametrize("question", UNANSWERABLE)
def test_questions_the_corpus_cannot_answer_say_so(searcher: KnowledgeBase, question: str) -> None:
    answer = ask(searcher, question)
    assert not answer.found and answer.generator == "none" and answer.items == []
    assert answer.answer.startswith("Not in the knowledge base") and answer.closest


@pytest.mark.slow
def test_not_found_says_why_a_word_or_a_year_is_missing(searcher: KnowledgeBase) -> None:
    # the corpus has CoreDNS incidents (2023, 2024) but none in 2022, and never mentions a warehouse
    dns = ask(searcher, "what was the root cause of the 2022 DNS outage?")
    assert not dns.found and "No matching document is dated 2022" in dns.answer
    assert any("coredns" in c["id"] for c in dns.closest)
    assert ask(searcher, "what was the root cause of the 2024 DNS outage?").found
    warehouse = ask(searcher, "who owns the data warehouse?")
    assert not warehouse.found
    # a name no stored passage uses is said; one rare word the best match lacks is no veto
    named = ask(searcher, "how do we restart the Zorblax batch scheduler?")
    assert not named.found and "No stored document names Zorblax" in named.answer
    fires = ask(searcher, "what should I do when the pgbouncer pool exhausted alert fires?")
    assert fires.found and fires.sources[0] == "pgbouncer-pool-exhausted", fires.answer


@pytest.mark.slow
def test_a_question_about_the_last_occurrence_answers_from_the_newest_incident(searcher: KnowledgeBase) -> None:
    answer = ask(searcher, "how did we fix the last redis failover?")
    assert answer.newest_first and answer.found
    # two redis failovers are stored (2023-04-21 and 2025-01-08): the answer quotes only the newer one
    assert {c.doc_id for i in answer.items for c in i.citations} <= {
        "2025-01-08-session-cache-failover-2025", "2025-01-08-session-cache-failover"}
    resolves(searcher, answer)
    plain = ask(searcher, "how do we fix a redis failover?")
    assert not plain.newest_first
    pool = ask(searcher, "how did we fix the last pgbouncer pool exhaustion?")
    assert pool.found and any(c.section == "resolution" for i in pool.items[:2] for c in i.citations)
    assert any("pg_terminate_backend" in i.text for i in pool.items)


@pytest.mark.slow
def test_an_ownership_table_row_is_quoted_with_its_column_names(searcher: KnowledgeBase) -> None:
    answer = ask(searcher, "who owns search?")
    rows = [i for i in answer.items if i.citations[0].doc_id == "incident-command-and-escalation"]
    assert rows and rows[0].text.startswith("service: catalog-search, search-es; owning team: Search")
    assert rows[0].citations[0].quote.startswith("| catalog-search, search-es | Search |")
    resolves(searcher, answer)


@pytest.mark.slow
def test_a_follow_up_resolves_against_the_previous_turn(searcher: KnowledgeBase) -> None:
    conversation = Conversation()
    first = ask(searcher, "how did we fix the last redis failover?", conversation)
    second = ask(searcher, "and what was the root cause?", conversation)
    assert first.found and second.found and len(conversation.turns) == 2
    assert any(c.section == "root_cause" for i in second.items for c in i.citations)
    assert set(second.sources) & set(first.sources)  # the same incidents, not root causes of anything
    alone = ask(searcher, "and what was the root cause?")
    assert alone.sources != second.sources


@pytest.mark.slow
def test_the_llm_path_drops_citations_to_passages_it_was_not_given(searcher: KnowledgeBase) -> None:
    def respond(request: dict) -> str:  # type: ignore[type-arg]
        pid, text = next(iter(passages_of(request).items()))
        return lines_reply([
            {"section": "answer", "text": text.splitlines()[0][:160], "cites": [pid]},
            {"section": "answer", "text": "Restart every Redis node at once.", "cites": ["P404"]},
        ])

    with OpenAIServer([Reply(respond=respond)], model="m") as server:
        llm = ChatModel(Settings(_env_file=None, llm_base_url=server.base_url, llm_model="m"))  # type: ignore[call-arg]
        answer = ask(searcher, "how did we fix the last redis failover?", llm=llm)
    assert answer.generator == "llm" and len(answer.items) == 1
    assert answer.dropped and "P404" in answer.dropped[0].reason
    resolves(searcher, answer)
    with OpenAIServer([Reply(content=lines_reply([{"section": "answer", "text": "x", "cites": ["P9"]}]))],
                      model="m") as server:
        llm = ChatModel(Settings(_env_file=None, llm_base_url=server.base_url, llm_model="m"))  # type: ignore[call-arg]
        answer = ask(searcher, "how did we fix the last redis failover?", llm=llm)
    offline = ask(searcher, "how did we fix the last redis failover?")
    assert answer.generator == "extractive" and [i.text for i in answer.items] == [i.text for i in offline.items]
    assert answer.note and "refused the answer" in answer.note and answer.note[:-1] in answer.answer
    assert answer.dropped and answer.dropped[0].text == "x" and answer.as_json()["note"] == answer.note


def caught_up(settings: Settings, log: Path, since: str | None = None) -> CatchUp:
    chat = read_chat(settings, log)
    return catch_up(chat.record, chat.new_messages, since=since)


def test_catch_up_on_a_growing_log_reads_only_the_new_part(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "kb", _env_file=None)  # type: ignore[call-arg]
    lines = (DATA / "chats" / "2026-01-21-pgbouncer-idle-in-transaction.txt").read_text().splitlines(keepends=True)
    log = tmp_path / "2026-01-21-live.txt"
    log.write_text("".join(lines[:12]))
    first = caught_up(settings, log)
    assert first.new_messages == first.total_messages > 0
    status = [i.text for i in first.items if i.section == "status"]
    assert any("ongoing" in t for t in status)
    state = json.loads(next((settings.data_dir / "catchup").glob("*.json")).read_text())
    assert 0 < state["byte_offset"] < log.stat().st_size  # stops at the last message, which may still grow
    with log.open("a") as f:
        f.write("".join(lines[12:]))
    second = caught_up(settings, log)
    assert second.total_messages > first.total_messages
    assert second.new_messages == second.total_messages - first.total_messages + 1 or second.new_messages > 0
    full = redact_text(log.read_text(), ParseOptions()).text  # citations point into the redacted log
    for c in (i.citations[0] for i in second.items):
        assert full[c.start : c.end].startswith(c.quote[:60].split("\n")[0][:40])
    assert any("resolved" in i.text for i in second.items if i.section == "status")
    assert [i.text for i in second.items if i.section == "actions taken"]
    since = caught_up(settings, log, since="10:40")
    assert all(i.text[:5] >= "10:40" for i in since.items if i.section == "actions taken")


def test_a_quoted_passage_keeps_code_chat_and_list_lines() -> None:
    text = ("We terminated the\nidle sessions:\n\n```sql\nSELECT 1;\n\nSELECT 2;\n```\nthen:\n- reload\n- watch\n"
            "[2026-01-21 10:00:01] ana: pool is back\n[2026-01-21 10:00:09] bo: ok\n")
    shown = quoted(text)
    assert shown.split("\n")[0] == "We terminated the idle sessions:"
    assert "```sql\nSELECT 1;\n\nSELECT 2;\n```" in shown
    assert shown.endswith("then:\n- reload\n- watch\n[2026-01-21 10:00:01] ana: pool is back\n[2026-01-21 10:00:09] bo: ok")
    assert quote_parts(shown) == [(None, "We terminated the idle sessions:"), ("sql", "SELECT 1;\n\nSELECT 2;"),
                                  (None, shown.split("```\n")[1])]
    assert quote_parts("a\n```\nunclosed") == [(None, "a"), ("", "unclosed")]
    # pasted output stays under its chat message; commands and continued lines keep their lines
    chat = "[2024-09-05 13:48:40] tomas: jobs:\n$ kubectl get jobs\nNAME   COMPLETIONS\nmigrate 0/1\n"
    assert quoted(chat) == "[2024-09-05 13:48:40] tomas: jobs:\n$ kubectl get jobs\nNAME   COMPLETIONS\nmigrate 0/1"
    pdf = "We checked it:\nkubectl -n edge get certificate\necho | openssl s_client -connect a:443 \\\n  -servername a\nThen we\nwaited."
    assert quoted(pdf).split("\n") == ["We checked it:", "kubectl -n edge get certificate",
                                       "echo | openssl s_client -connect a:443 \\", "-servername a", "Then we waited."]
    assert quoted("1. **Stop the bleeding**: roll back.") == "**Stop the bleeding**: roll back."  # numbered by the answer


@pytest.mark.slow
def test_a_year_in_the_question_prefers_that_years_incidents(searcher: KnowledgeBase) -> None:
    dns = ask(searcher, "what was the root cause of the 2024 DNS outage?")
    assert dns.found and dns.items[0].citations[0].doc_id == "2024-10-17-coredns-configmap-typo"
    logout = ask(searcher, "why did users get logged out in january 2025?")
    assert logout.found and {c.doc_id for i in logout.items for c in i.citations} <= {
        "2025-01-08-session-cache-failover-2025", "2025-01-08-session-cache-failover"}


@pytest.mark.slow
def test_quotes_start_with_their_own_words(searcher: KnowledgeBase) -> None:
    # a PDF's plain "Root cause" heading line is not quoted as part of the sentence under it
    dns = ask(searcher, "what was the root cause of the 2024 DNS outage?")
    assert not any(i.text.lower().startswith("root cause") for i in dns.items)
    logout = ask(searcher, "why did users get logged out in january 2025?")
    chat = [i for i in logout.items if i.citations[0].section == "chat"]
    assert chat and all(re.match(r"\[2025-01-08 \d\d:\d\d:\d\d\] \w+:", i.text) for i in chat)  # whole messages


@pytest.mark.slow
def test_a_day_in_the_question_answers_from_that_days_documents(searcher: KnowledgeBase) -> None:
    answer = ask(searcher, "what happened on 2024-09-05?")
    assert answer.found and {c.doc_id for i in answer.items for c in i.citations} <= {
        "2024-09-05-checkout-rollback-bad-migration", "2024-09-05-checkout-bad-migration"}
    assert not ask(searcher, "what happened on 2024-09-06?").found


@pytest.mark.slow
def test_who_led_an_incident_and_references_are_pointers(searcher: KnowledgeBase) -> None:
    ic = ask(searcher, "who was the incident commander during the black friday kafka lag?")
    assert ic.found and "incident commander" in ic.items[0].text and ic.items[0].citations[0].section == "timeline"
    # a runbook's "Postmortem 2024-11-29: ..." line points at the incident; it answers only a question for such links
    listed = ask(searcher, "which postmortems mention kafka lag?")
    assert listed.found and listed.items[0].citations[0].section == "references"


@pytest.mark.slow
def test_who_owns_reads_the_ownership_table_even_when_search_finds_other_runbooks(searcher: KnowledgeBase) -> None:
    owner = ask(searcher, "who owns the payments-gateway?")
    assert owner.found and "owning team: Payments" in owner.items[0].text
    assert owner.items[0].citations[0].doc_id == "incident-command-and-escalation"
