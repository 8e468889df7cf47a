"""Runbook drafts, update proposals, approved revisions and staleness (fast: fake embedding, real Chroma)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from ingest.pipeline import Ingestor
from ingest.revisions import apply_proposal
from kb.clients.openai_client import ChatModel
from kb.clients.store import open_store
from kb.core.errors import NotFound, ProposalError
from kb.core.models import Kind
from kb.core.settings import Settings
from kb.knowledge import KnowledgeBase
from kb.retrieval.alerts import parse_alert
from kb.retrieval.search import Query
from kb.runbooks import update
from kb.runbooks.candidates import DUPLICATE, HEADINGS, PHASES
from kb.runbooks.draft import draft_runbook
from kb.runbooks.proposals import load_proposal
from kb.runbooks.revisions import history
from kb.runbooks.stale import stale_runbooks
from kb.runbooks.update import propose_update
from kb.text.steps import command_shapes, similarity, terms_of
from tests.conftest import fake_ingested, fake_sample
from tests.fakes import HashingEmbedding
from tests.openai_server import OpenAIServer, Reply


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    return fake_sample(tmp_path_factory.mktemp("sample"))[1]


def assert_grounded(searcher: KnowledgeBase, draft) -> None:  # type: ignore[no-untyped-def]
    for item in draft.items:
        assert item.citations, item.text
        for c in item.citations:
            record = searcher.store.get_record(c.doc_id)
            assert record.text[c.start : c.end].startswith(c.quote), (item.text, c)


@pytest.mark.parametrize(
    ("topic", "expect_doc"),
    [
        ("pgbouncer pool exhausted, clients waiting", "pgbouncer-pool-exhausted"),
        ("redis sentinel failover, users logged out", "redis-sentinel-failover"),
        ("elasticsearch disk watermark, indices read-only", "elasticsearch-disk-watermark"),
    ],
)
def test_offline_draft_is_cited_ordered_and_deduplicated(sample: KnowledgeBase, topic: str, expect_doc: str) -> None:
    draft = draft_runbook(sample, topic)
    assert draft.generator == "extractive" and "without an LLM" in draft.markdown
    assert expect_doc in draft.sources
    assert_grounded(sample, draft)
    sections = [i.section for i in draft.items]
    assert sections == sorted(sections, key=PHASES.index)
    assert {"triage", "mitigation"} <= set(sections)
    positions = [draft.markdown.index(f"## {h}") for h in HEADINGS.values()]
    assert positions == sorted(positions)
    assert draft.markdown.index("## References") > positions[-1]
    for phase in PHASES:
        steps = [terms_of(i.text) for i in draft.items if i.section == phase]
        for a in range(len(steps)):
            for b in range(a + 1, len(steps)):
                assert similarity(steps[a], steps[b]) < DUPLICATE


def test_steps_saying_the_same_thing_are_merged(settings: Settings, tmp_path: Path) -> None:
    corpus = tmp_path / "c"
    corpus.mkdir()
    for name, extra in (("a", "first"), ("b", "second")):
        (corpus / f"widget-{name}.md").write_text(
            f"---\nkind: runbook\nservices: [widget]\n---\n# Widget queue backlog ({extra})\n\n## Mitigation\n\n"
            "1. Drain the widget queue with `widgetctl drain --queue backlog` and watch the depth.\n"
            f"2. Page the widget team if the {extra} drain stalls for ten minutes.\n"
        )
    searcher = fake_ingested(settings, corpus)
    draft = draft_runbook(searcher, "widget queue backlog drain")
    drains = [i for i in draft.items if "widgetctl drain" in i.text]
    assert len(drains) == 1
    assert {c.doc_id for c in drains[0].citations} == {"widget-a", "widget-b"}


def test_steps_with_other_commands_are_never_merged(settings: Settings, tmp_path: Path) -> None:
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "gadget-crash.md").write_text(
        "---\nkind: runbook\nservices: [gadget]\n---\n# Gadget pod crash looping\n\n## Diagnosis\n\n"
        "- Check the gadget pod with `kubectl -n $NAMESPACE get pod $POD`.\n"
        "- Check the gadget pod with `kubectl -n $NAMESPACE describe pod $POD`.\n"
        "- Check the gadget pod with `kubectl -n $NAMESPACE logs $POD -c gadget`.\n")
    (corpus / "gadget-restarts.md").write_text(
        "---\nkind: runbook\nservices: [gadget]\n---\n# Gadget pod restarts\n\n## Diagnosis\n\n"
        "- Check the gadget pod restarts and the gadget pod events.\n")
    searcher = fake_ingested(settings, corpus)
    draft = draft_runbook(searcher, "gadget pod crash looping")
    shown = " ".join(i.text for i in draft.items)
    for command in ("get pod $POD", "describe pod $POD", "logs $POD -c gadget"):
        assert command in shown, (command, shown)


def test_draft_from_an_alert_names_it(sample: KnowledgeBase) -> None:
    alert = parse_alert(json.dumps({"labels": {"alertname": "PgBouncerPoolExhausted", "namespace": "data"},
                                    "annotations": {"summary": "PgBouncer pool has waiting clients"}}))
    draft = draft_runbook(sample, alert=alert)
    assert "PgBouncerPoolExhausted" in draft.title
    assert any("PgBouncerPoolExhausted" in i.text for i in draft.items if i.section == "symptoms")
    assert_grounded(sample, draft)


def test_unknown_topic_says_so(settings: Settings) -> None:
    store = open_store(settings, "hashing-64")
    with pytest.raises(NotFound, match="nothing in the knowledge base"):
        draft_runbook(KnowledgeBase(settings, embedding=HashingEmbedding(), store=store), "anything")


def test_a_topic_no_document_is_about_is_refused(sample: KnowledgeBase) -> None:
    # search always returns its closest documents; a draft from them would be about something else
    with pytest.raises(NotFound, match="never mention zzqx"):
        draft_runbook(sample, "zzqx")
    assert draft_runbook(sample, "how to debug pgbouncer pool exhaustion").items


def widget_corpus(root: Path) -> Path:
    (root / "runbooks").mkdir(parents=True)
    (root / "postmortems").mkdir()
    (root / "runbooks" / "widget-backlog.md").write_text(
        "---\ntitle: Widget queue backlog\nkind: runbook\nservices: [widget]\nalerts: [WidgetQueueBacklog]\n"
        "last_reviewed: 2024-01-10\n---\n# Widget queue backlog\n\n## Overview\n\nThe widget queue feeds the widget "
        "workers.\n\n## Symptoms\n\n- `WidgetQueueBacklog` fires when the widget queue depth grows.\n\n"
        "## Triage\n\n1. Check the widget queue depth on the widget dashboard.\n\n## Mitigation\n\n"
        "1. Scale the widget workers up.\n"
    )
    (root / "postmortems" / "2025-03-01-widget-backlog.md").write_text(
        "---\ntitle: Widget queue backlog after a broker restart\nkind: postmortem\ndate: 2025-03-01\n"
        "services: [widget]\nalerts: [WidgetQueueBacklog]\nseverity: SEV2\n---\n"
        "# Widget queue backlog after a broker restart\n\n## Summary\n\nThe widget queue backed up.\n\n"
        "## Resolution\n\n```\nwidgetctl drain --queue widget-backlog --rate 500\n```\n\n"
        "## Lessons learned\n\nNever restart the widget broker while the widget queue is draining.\n"
    )
    return root


def test_update_proposal_apply_history_and_reingest(settings: Settings, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = widget_corpus(tmp_path / "corpus")
    searcher = fake_ingested(settings, corpus)
    store, embedding = searcher.store, searcher.embedding
    monkeypatch.setattr(update, "RELEVANT", 0.2)  # the hashing fake's cosines are lower than the model's

    stale = stale_runbooks(searcher)
    assert [(s.runbook_id, s.incidents) for s in stale] == [("widget-backlog", 1)]

    now = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    proposal = propose_update(settings, searcher, "widget-backlog", now=now)
    assert proposal.diff.startswith("--- a/widget-backlog.md")
    added = [line for line in proposal.diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert any("widgetctl drain" in line for line in added)
    assert any("Never restart the widget broker" in line for line in added)
    assert all(h.citations for h in proposal.hunks if "widgetctl" in h.text or "Never restart" in h.text)
    assert Path(proposal.path).exists()
    # the diff applies to the file as it is on disk (front matter untouched but for last_reviewed)
    original = corpus / "runbooks" / "widget-backlog.md"
    patched = tmp_path / "patched"
    patched.mkdir()
    shutil.copy(original, patched / "widget-backlog.md")
    (patched / "change.diff").write_text(proposal.diff)
    result = subprocess.run(["patch", "-p1", "-i", "change.diff"], cwd=patched, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    changed = (patched / "widget-backlog.md").read_text()
    assert "last_reviewed: 2026-01-02\n" in changed and "services: [widget]\n" in changed
    assert changed == proposal.new_markdown
    before = store.get_record("widget-backlog")
    assert "widgetctl" not in before.text  # nothing is written before apply

    applied = apply_proposal(searcher, proposal.id, now=now)
    assert applied.revision.number == 2
    # the file written is the approved text plus two bookkeeping lines in its front matter, nothing reformatted
    written = Path(applied.path).read_text()
    extra = f"supersedes: {before.source_key}\nrevision: 2\n---\n"
    assert written == proposal.new_markdown.replace("\n---\n", "\n" + extra, 1), written[:300]
    after = store.get_record("widget-backlog")
    assert "widgetctl drain" in after.text and after.date == dt.date(2026, 1, 2)
    saved = history(settings, "widget-backlog")
    assert [r.number for r in saved] == [1, 2]
    assert "widgetctl" not in Path(saved[0].path).read_text()
    # searchable under the same id, and the original file does not come back on the next ingest
    hits = searcher.search(Query(text="widgetctl drain broker", kinds=(Kind.runbook,)))
    assert hits and hits[0].record.id == "widget-backlog"
    report = Ingestor(settings, store, embedding, searcher.keyword).run([corpus])
    assert any(f.status == "superseded" for f in report.files)
    assert "widgetctl drain" in store.get_record("widget-backlog").text
    assert store.count_records() == 2
    # the same proposal cannot be applied twice, and the runbook is no longer stale
    with pytest.raises(ProposalError, match="already applied to 'widget-backlog' as revision 2"):
        apply_proposal(searcher, proposal.path)
    assert stale_runbooks(searcher) == []
    again = propose_update(settings, searcher, "widget-backlog", since=dt.date(2025, 1, 1))
    assert "widgetctl" not in "".join(line for line in again.diff.splitlines() if line.startswith("+"))


def test_update_of_a_non_runbook_and_bad_proposal_files(sample: KnowledgeBase, tmp_path: Path) -> None:
    with pytest.raises(Exception, match="not a runbook"):
        propose_update(Settings(data_dir=tmp_path, _env_file=None), sample, "2023-03-09-orders-db-connection-exhaustion")  # type: ignore[call-arg]
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ProposalError, match=r"bad\.json: not a runbook proposal \(the file: Invalid JSON"):
        load_proposal(bad)
    bad.write_text('{"a": 1}')  # the missing fields are named, without pydantic's links
    with pytest.raises(ProposalError, match=r"runbook_id: Field required; title: Field required") as caught:
        load_proposal(bad)
    assert "pydantic" not in str(caught.value)
    with pytest.raises(ProposalError, match="no such proposal"):
        load_proposal(tmp_path / "missing.json")


def test_a_runbook_that_already_tells_of_an_incident_is_not_stale_for_it(settings: Settings, tmp_path: Path) -> None:
    corpus = widget_corpus(tmp_path / "corpus")
    runbook = corpus / "runbooks" / "widget-backlog.md"
    runbook.write_text(runbook.read_text() + "\n## References\n\n- Postmortem 2025-03-01: broker restart backlog.\n")
    searcher = fake_ingested(settings, corpus)
    assert stale_runbooks(searcher) == []


def test_a_command_in_another_namespace_is_the_same_command() -> None:
    assert command_shapes("$ kubectl -n identity rollout restart deployment/auth") == command_shapes(
        "Restart it: `kubectl -n auth rollout restart deploy/auth`")
    assert command_shapes("kubectl -n auth rollout restart deploy/auth") != command_shapes(
        "kubectl -n auth rollout undo deploy/auth")
    assert command_shapes("Nothing to run here.") == set()


def test_a_merge_shows_the_copy_that_carries_the_command() -> None:
    from kb.core.models import Kind, Record
    from kb.runbooks.candidates import Candidate, merge_duplicates
    from kb.text.steps import Span, terms_of

    record = Record(id="r", title="r", kind=Kind.runbook, text="", source_path="r.md", content_hash="0",
                    source_key="r.md", format="markdown")
    plain, coded = ("Look at the alertmanager logs for notification errors.",
                    "Look at the alertmanager logs for notification errors: `kubectl -n monitoring logs -l app=am`")
    first, second = (Candidate("diagnosis", record, Span(0, len(t), t), t, 0, terms=terms_of(t)) for t in (plain, coded))
    [kept] = merge_duplicates([first, second])
    assert kept is second and kept.merged == [first]


def test_an_update_whose_llm_reply_cannot_be_used_is_proposed_offline_and_says_why(
        settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    searcher = fake_ingested(settings, widget_corpus(tmp_path / "corpus"))
    monkeypatch.setattr(update, "RELEVANT", 0.2)  # the hashing fake's cosines are lower than the model's
    now = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    offline = propose_update(settings, searcher, "widget-backlog", now=now)
    with OpenAIServer([Reply(content="Sure! Add a step to drain the queue.")], model="m") as server:
        llm = ChatModel(Settings(_env_file=None, llm_base_url=server.base_url, llm_model="m"))  # type: ignore[call-arg]
        proposal = propose_update(settings, searcher, "widget-backlog", llm=llm, now=now)
    assert len(server.requests) == 2  # asked, sent back once, then set aside
    assert proposal.generator == "extractive" and proposal.diff == offline.diff and proposal.diff
    assert proposal.note and "The reply of m could not be used" in proposal.note
    assert proposal.as_json()["note"] == proposal.note and offline.note is None
    assert load_proposal(Path(proposal.path)).note == proposal.note  # kept with the saved proposal
