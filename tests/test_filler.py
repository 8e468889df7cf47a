"""Filler recognised at ingest (redirect stubs, link pages, empty templates) and ranked below content."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest import filler
from ingest.chunking import chunk_record
from ingest.pipeline import Ingestor
from kb.core.models import Kind, Record, RecordMeta
from kb.knowledge import KnowledgeBase
from kb.retrieval.filler import FILLER_WEIGHT, arrange, resolve
from kb.retrieval.search import Query
from kb.text.structure import structure

LINK_INDEX = """# Team handbook

- [On-call rota](oncall.md)
- [Paging policy](paging.md) - who gets paged
- [Escalation](escalation.md)
- [Postgres failover](db/failover.md)
- [Kafka lag](kafka/lag.md)
- [Status page](https://status.example.org)
"""

TEMPLATE = """# Runbook: <service name>

<!-- One paragraph: what the alert means and who owns the service. -->

## Impact

<!-- Who is affected and how badly? -->

## Diagnosis

## Mitigation

<!-- Steps, with the commands to run. -->
"""

RUNBOOK = """# Queue backlog on the billing workers

## Meaning

The billing queue holds more than ten thousand messages and the oldest is over fifteen minutes old.

## Mitigation

Scale the billing workers to twelve replicas with kubectl scale deploy/billing-worker --replicas=12,
then watch the queue depth fall on the billing dashboard. If it does not fall, pause the invoice export job.
"""


def record(text: str, name: str = "doc", kind: Kind = Kind.runbook) -> Record:
    return Record(
        id=name, kind=kind, title=name, source_path=f"/docs/{name}.md", source_key=f"/docs/{name}.md",
        format="markdown", content_hash=name * 4, text=text,
    )


def test_structure_counts_links_comments_and_headings_apart_from_what_a_page_says() -> None:
    index = structure(LINK_INDEX)
    assert index.links == 6 and index.link_blocks == 6
    assert index.content_words == 0 and index.link_share == 1.0
    empty = structure(TEMPLATE)
    assert empty.content_words == 0 and empty.comment_words == 23 and empty.heading_words == 4
    page = structure(RUNBOOK)
    assert page.content_words > 40 and page.link_share == 0.0
    # a Hugo cross-reference is a link to the page it names
    assert structure('See [Disk degraded]({{< ref "./DiskDegraded.md" >}})').targets == ["./DiskDegraded.md"]


def test_link_pages_and_empty_templates_are_marked_by_structure_content_is_not() -> None:
    docs = [record(LINK_INDEX, "index"), record(TEMPLATE, "template"), record(RUNBOOK, "billing")]
    filler.sift(docs, [chunk_record(d, 150) for d in docs], use_model=False)
    assert [d.filler for d in docs] == [filler.LINKS, filler.TEMPLATE, ""]


def test_a_passage_of_only_a_heading_and_a_comment_is_not_stored_when_the_page_has_content() -> None:
    text = RUNBOOK + "\n## Rollback\n\n<!-- Describe how to roll back the change. -->\n"
    doc = record(text)
    chunks = chunk_record(doc, 40)
    kept = filler.sift([doc], [chunks], use_model=False)[0]
    assert len(kept) == len(chunks) - 1
    assert all("Describe how to roll back" not in c.text for c in kept)
    assert doc.filler == ""


@pytest.mark.slow
def test_a_short_page_that_points_elsewhere_is_a_redirect_a_short_instruction_is_not() -> None:
    docs = [
        record("# Cache eviction storms\n\nThis guide now lives in the [platform wiki](https://wiki.example.net/"
               "platform/cache-evictions).\n", "stub"),
        record("# OldDiskAlert\n\nRetired: the rule is removed next week, so mute it in the pager until then. "
               "Details in [the change](https://git.example.net/rules/pull/12).\n", "retired"),
        record("# Impact\n\nTBD\n\n## Steps\n\nTODO\n", "todo"),
    ]
    filler.sift(docs, [chunk_record(d, 150) for d in docs])
    assert (docs[0].filler, docs[0].redirect) == (filler.REDIRECT, "https://wiki.example.net/platform/cache-evictions")
    assert docs[1].filler == ""
    assert docs[2].filler == filler.TEMPLATE


def meta(rid: str, path: str, label: str = "", target: str = "") -> RecordMeta:
    return RecordMeta(id=rid, source_path=path, filler=label, redirect=target)


def test_a_redirect_target_is_found_by_its_path_as_a_url_or_relative_link() -> None:
    metas = {
        "a": meta("a", "/kb/alerts/apiserver/ApiDown.md"),
        "b": meta("b", "/kb/alerts/monitoring/ApiDown.md", "redirect", "x"),
        "c": meta("c", "/kb/node/RaidDegraded.md"),
    }
    url = "https://git.example.org/runbooks/blob/main/alerts/apiserver/ApiDown.md"
    assert resolve(url, "/kb/alerts/monitoring/ApiDown.md", metas) == "a"
    assert resolve("./RaidDegraded.md", "/kb/node/RaidFailed.md", metas) == "c"
    assert resolve("https://blog.example.com/some-post", "/kb/node/x.md", metas) == ""


def test_filler_is_listed_after_content_and_a_stub_lifts_its_target() -> None:
    metas = {
        "stub": meta("stub", "/kb/old/Target.md", "redirect", "../new/Target.md"),
        "target": meta("target", "/kb/new/Target.md"),
        "index": meta("index", "/kb/README.md", "links"),
        "page": meta("page", "/kb/page.md"),
    }
    ranked = [("stub", 1.0, []), ("index", 0.9, []), ("page", 0.5, []), ("target", 0.2, [])]
    out = arrange(ranked, metas)
    assert [rid for rid, _s, _p in out] == ["target", "stub", "page", "index"]
    assert out[0][1] == 1.0 and out[3][1] == pytest.approx(0.9 * FILLER_WEIGHT)


def test_a_stub_pointing_outside_the_corpus_keeps_its_place() -> None:
    metas = {
        "stub": meta("stub", "/kb/alerts/OutOfOrder.md", "redirect", "https://blog.example.com/post"),
        "index": meta("index", "/kb/README.md", "links"),
        "page": meta("page", "/kb/page.md"),
    }
    ranked = [("index", 1.0, []), ("stub", 0.8, []), ("page", 0.5, [])]
    assert [rid for rid, _s, _p in arrange(ranked, metas)] == ["stub", "page", "index"]


def test_search_never_shows_a_link_page_above_content(fake_kb: Ingestor, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "README.md").write_text(
        "# Billing runbooks\n\n" + "".join(f"- [Billing queue backlog {n}](backlog-{n}.md)\n" for n in range(8)),
        encoding="utf-8",
    )
    (docs / "backlog.md").write_text(RUNBOOK, encoding="utf-8")
    (docs / "other.md").write_text("# Certificates\n\nRenew the ingress certificate with cert-manager and "
                                   "restart the controller when the expiry alert fires.\n", encoding="utf-8")
    fake_kb.run([docs], kind=Kind.runbook)
    kb = KnowledgeBase(fake_kb.settings, embedding=fake_kb.embedding, store=fake_kb.store)
    found = kb.search(Query(text="billing queue backlog runbooks", k=5))
    ids = [d.record.id for d in found]
    assert "README" in ids or "readme" in {i.lower() for i in ids}
    index = next(d for d in found if d.record.id.lower() == "readme")
    assert index.record.filler == "links"
    assert ids.index(index.record.id) == len(ids) - 1
