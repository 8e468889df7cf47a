"""Documents exported from Confluence, Google Docs, Word and Notion: each realistic export (tests/imports/)
becomes sections, code blocks, tables and metadata with its page chrome gone; a malformed one fails with
its name and the reason; a folder of all of them ingests in one run next to the bad ones."""

from __future__ import annotations

import datetime as dt
import io
import re
import shutil
import time
import zipfile
from pathlib import Path

import pytest
from docx import Document
from docx.enum.style import WD_STYLE_TYPE

from ingest.pipeline import Ingestor
from ingest.sources import Unit, discover, parse_unit
from ingest.sources.base import ParseOptions
from ingest.uploads import save_uploads
from kb.core.errors import KBError, ParseError
from kb.core.models import Kind, Record

SAMPLES = Path(__file__).parent / "imports"
CONFLUENCE_PAGE = SAMPLES / "confluence" / "SRE-Postmortem-2024-03-12-Checkout-502s_98305.html"
STORAGE_PAGE = SAMPLES / "confluence" / "redis-failover-runbook.xhtml"
GOOGLE_DOC = SAMPLES / "gdocs" / "PostmortemPgBouncerPoolExhaustion.html"
NOTION = SAMPLES / "notion"
NOTION_PAGE = NOTION / "Postmortem Redis session cache failover 0a1b2c3d4e5f67890a1b2c3d4e5f6789.md"
NOTION_DATABASE = NOTION / "Incidents 5e1b2c3d4e5f60718293a4b5c6d7e8f9.csv"


def parsed(path: Path) -> list[Record]:
    return parse_unit(Unit(path), ParseOptions())


def one(path: Path) -> Record:
    records = parsed(path)
    assert len(records) == 1
    return records[0]


def section_text(record: Record, name: str) -> str:
    found = [record.text[s.start : s.end] for s in record.sections if s.name == name]
    assert found, f"no {name} section in {[s.name for s in record.sections]}"
    return found[0]


def fenced(text: str) -> list[tuple[str, str]]:
    """(language, code) of every fenced code block in Markdown."""
    return [(m.group(1), m.group(2)) for m in re.finditer(r"(?ms)^```([\w+-]*)\n(.*?)\n```$", text)]


def build_docx(path: Path) -> Path:
    """A postmortem as Word writes it: core properties, headings, a bulleted list, a table, a code paragraph."""
    doc = Document()
    doc.core_properties.title = "Postmortem: DNS resolution failures in eu-west-1"
    doc.core_properties.author = "Sam Okafor"
    doc.core_properties.keywords = "dns, coredns, postmortem"
    doc.core_properties.created = dt.datetime(2025, 6, 3, 9, 30)
    doc.styles.add_style("Code", WD_STYLE_TYPE.PARAGRAPH)
    doc.add_heading("Postmortem: DNS resolution failures in eu-west-1", level=0)
    doc.add_heading("Summary", level=1)
    doc.add_paragraph("CoreDNS pods were OOMKilled after a cache size change; lookups of internal names timed out.")
    doc.add_heading("Impact", level=1)
    doc.add_paragraph("Payments calls failed for 17 minutes", style="List Bullet")
    doc.add_paragraph("Batch exports were delayed", style="List Bullet")
    doc.add_heading("Timeline", level=1)
    table = doc.add_table(rows=3, cols=2)
    for row, (when, what) in zip(
        table.rows, [("Time", "Event"), ("10:02", "CoreDNSDown fires"), ("10:19", "Cache size reverted")], strict=True
    ):
        row.cells[0].text, row.cells[1].text = when, what
    doc.add_heading("Mitigation", level=1)
    doc.add_paragraph("kubectl -n kube-system rollout undo deployment/coredns", style="Code")
    doc.add_paragraph("kubectl -n kube-system get pods -l k8s-app=kube-dns", style="Code")
    doc.save(str(path))
    return path


def test_a_confluence_export_page_keeps_its_content_and_metadata_and_drops_the_chrome() -> None:
    record = one(CONFLUENCE_PAGE)
    assert record.format == "confluence" and record.kind == Kind.postmortem
    assert record.id == "sre-postmortem-2024-03-12-checkout-502s"  # without Confluence's page id
    assert record.title == "Postmortem: Checkout 502s after ingress config push"  # the space name left out
    assert record.owner == "Priya Raman"
    assert record.tags == ["postmortem", "ingress"]
    assert record.front_matter["last_modified"] == "Mar 14, 2024"
    assert record.date == dt.date(2024, 3, 12)  # the incident's day, as the page states it
    assert [s.name for s in record.sections] == ["summary", "timeline", "root_cause", "resolution", "action_items"]
    assert "| 14:07 | Alert CheckoutHigh5xxRate fires |" in section_text(record, "timeline")
    assert fenced(section_text(record, "resolution")) == [
        (
            "bash",
            "kubectl -n ingress rollout undo deployment/ingress-nginx-controller\n"
            "kubectl -n ingress rollout status deployment/ingress-nginx-controller --timeout=120s",
        )
    ]
    assert "> **Note: Customer impact**" in record.text
    for chrome in ("Created by", "last modified", "Document generated", "Atlassian", "Attachments", "error-rate-graph",
                   "Postmortems", "rbtoc", "- Summary"):  # fmt: skip
        assert chrome not in record.text
    assert "CheckoutHigh5xxRate" in record.alerts


def test_a_confluence_page_without_a_stated_day_takes_the_day_it_was_last_modified(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text(CONFLUENCE_PAGE.read_text().replace("On 2024-03-12 between", "Between"))
    assert one(page).date == dt.date(2024, 3, 14)


def test_a_confluence_page_s_modification_day_is_read_by_its_form_in_any_language(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    text = CONFLUENCE_PAGE.read_text().replace("On 2024-03-12 between", "Between")
    page.write_text(text.replace("last modified by", "zuletzt geändert von").replace(" on Mar 14, 2024", " am 2024-03-15"))
    record = one(page)
    assert record.front_matter["last_modified"] == "2024-03-15" and record.date == dt.date(2024, 3, 15)


def test_a_confluence_storage_format_runbook_becomes_markdown() -> None:
    record = one(STORAGE_PAGE)
    assert record.format == "confluence" and record.kind == Kind.runbook
    assert record.title == "Runbook: Redis session cache failover"
    assert [s.name for s in record.sections][1:] == ["overview", "symptoms", "mitigation", "verification"]
    mitigation = section_text(record, "mitigation")
    assert fenced(mitigation) == [
        (
            "bash",
            "redis-cli -h sentinel-0.redis-sessions -p 26379 SENTINEL failover sessions-master\n"
            "redis-cli -h sentinel-0.redis-sessions -p 26379 SENTINEL get-master-addr-by-name sessions-master",
        )
    ]
    assert "Promote a replica" in mitigation  # the code block's title
    assert "> **Warning:**" in mitigation and "Never run `FLUSHALL`" in mitigation
    assert "> **Info: Before you start**" in record.text
    assert "the session-cache service primary" in record.text  # an <ac:link> is its page's title
    assert "| INFO replication on the new primary | role:master, connected_slaves:2 |" in record.text
    assert "- [ ] Open a ticket for the failed node" in record.text
    assert record.date == dt.date(2024, 5, 2)  # <time datetime=...>
    assert record.text.endswith("Last reviewed 2024-05-02\n")  # the emoticon after it dropped
    for markup in ("ac:", "ri:", "CDATA", "maxLevel", "macro"):
        assert markup not in record.text


def test_a_google_docs_web_page_export_becomes_markdown() -> None:
    record = one(GOOGLE_DOC)
    assert record.format == "google-docs" and record.kind == Kind.postmortem
    assert record.title == "Postmortem: PgBouncer pool exhaustion on orders-db"
    assert (record.date, record.owner, record.severity) == (dt.date(2026, 1, 21), "Elena Novak", "SEV2")
    assert [s.name for s in record.sections][1:] == ["summary", "impact", "timeline", "root_cause", "mitigation"]
    assert "`FATAL: sorry, too many clients already`" in section_text(record, "summary")  # monospace run
    assert "- Refund queue delayed by 40 minutes" in section_text(record, "impact")
    assert "| 09:12 | PgBouncerPoolExhausted fires for orders-db |" in section_text(record, "timeline")
    assert fenced(section_text(record, "mitigation")) == [
        ("", "psql -h orders-db -c \"SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
             "WHERE state = 'idle in transaction'\""),
    ]  # fmt: skip
    assert "See the PgBouncer dashboard." in record.text
    for chrome in ("can we add", "[a]", "google.com", "googleusercontent", "font-family", "Courier"):
        assert chrome not in record.text


@pytest.mark.parametrize(
    "sheet",
    [
        '.c1{font-family:"Fira Code",Menlo,monospace;font-size:10pt}',  # the generic family ends the stack
        'code,pre{font-family:"Fira Code"}.c1{font-family:"Fira Code"}',  # the page's own font for code
        '@font-face{font-family:"Fira Code";panose-1:2 11 6 9 2 2 4 3 2 4}.c1{font-family:"Fira Code"}',  # fixed pitch
    ],
)
def test_a_run_in_the_page_s_monospace_font_is_code(tmp_path: Path, sheet: str) -> None:
    page = tmp_path / "doc.html"
    page.write_text(GOOGLE_DOC.read_text().replace('.c1{font-family:"Courier New";font-size:10pt}', sheet))
    assert "`FATAL: sorry, too many clients already`" in section_text(one(page), "summary")


def test_a_run_in_a_proportional_font_is_not_code(tmp_path: Path) -> None:
    page = tmp_path / "doc.html"
    page.write_text(GOOGLE_DOC.read_text().replace('"Courier New"', '"Georgia", serif'))
    record = one(page)
    assert "failed with FATAL: sorry, too many clients already\xa0for 38" in section_text(record, "summary")
    assert "```" not in record.text


def test_a_word_document_becomes_markdown_with_its_properties(tmp_path: Path) -> None:
    record = one(build_docx(tmp_path / "dns-postmortem.docx"))
    assert record.format == "docx" and record.kind == Kind.postmortem
    assert record.title == "Postmortem: DNS resolution failures in eu-west-1"
    assert (record.owner, record.date) == ("Sam Okafor", dt.date(2025, 6, 3))
    assert record.tags == ["dns", "coredns", "postmortem"]
    assert [s.name for s in record.sections] == ["body", "summary", "impact", "timeline", "mitigation"]
    assert "- Payments calls failed for 17 minutes" in section_text(record, "impact")
    assert "| 10:02 | CoreDNSDown fires |" in section_text(record, "timeline")
    assert fenced(section_text(record, "mitigation")) == [
        ("", "kubectl -n kube-system rollout undo deployment/coredns\nkubectl -n kube-system get pods -l k8s-app=kube-dns")
    ]


def test_a_notion_export_takes_page_properties_and_database_rows() -> None:
    page = one(NOTION_PAGE)
    assert page.format == "notion" and page.kind == Kind.postmortem
    assert page.id == "postmortem-redis-session-cache-failover"  # no Notion id in it
    assert page.title == "Postmortem: Redis session cache failover"
    assert (page.date, page.owner, page.severity) == (dt.date(2024, 9, 5), "Marco Diaz", "SEV1")
    assert page.tags == ["redis", "postmortem", "sessions"] and page.services == ["session-cache"]
    assert page.front_matter["status"] == "Published"
    assert "Owner: Marco Diaz" not in page.text  # the properties block is metadata, not text
    assert ("bash", "redis-cli -h redis-sessions-0 CONFIG SET maxmemory 6gb") in fenced(page.text)
    assert "| 13:07 | RedisSessionsMemoryHigh fires |" in section_text(page, "timeline")

    row_page = one(next((NOTION / NOTION_DATABASE.stem).glob("Kafka*.md")))
    assert row_page.kind == Kind.postmortem  # a page of the "Incidents" database
    assert row_page.title == "Kafka consumer lag: billing"  # its row found though ":" is not in its file name
    assert (row_page.owner, row_page.services, row_page.tags) == ("Li Wei", ["billing-consumer"], ["kafka", "lag"])
    assert row_page.date == dt.date(2025, 4, 18) and row_page.severity == "SEV2"

    rows = parsed(NOTION_DATABASE)  # the row with a page of its own is that page's metadata, not a record
    assert [r.title for r in rows] == ["Checkout latency after CDN change"]
    row = rows[0]
    assert (row.date, row.owner, row.severity, row.services) == (dt.date(2025, 3, 3), "Ana Costa", "SEV3", ["checkout"])
    assert row.source_key.endswith("#Checkout latency after CDN change")
    assert "Tags: cdn, latency" in row.text


def _zip(parts: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return buffer.getvalue()


ENTITY_DOCUMENT = (
    b'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r>'
    b"<w:t>&x;</w:t></w:r></w:p></w:body></w:document>"
)
MALFORMED: dict[str, tuple[bytes, str]] = {
    "broken.docx": (b"PK\x03\x04 this is not really a zip archive", "not a readable zip archive"),
    "renamed-zip.docx": (_zip({"notes.txt": b"hello"}), "no word/document.xml"),
    "bomb.docx": (_zip({"word/document.xml": b" " * (4 * 1024 * 1024)}), "zip bomb"),
    "entities.docx": (_zip({"word/document.xml": ENTITY_DOCUMENT}), "DOCTYPE"),
    "empty.docx": (b"", "empty file"),
    "not-confluence.html": (
        b"<html><head><script>track()</script></head><body><nav><a href='/'>Home</a></nav><footer>(c)</footer>"
        b"</body></html>",
        "no document text",
    ),
    "plain.html": (b"just some words, no markup at all\n", "not an HTML document"),
    "empty.html": (b"", "empty file"),
    "binary.xhtml": (bytes(range(256)) * 8, "binary data"),
    "Broken 0123456789abcdef0123456789abcdef.csv": (b"Name,Date\n", "no rows"),
    "nested.html": (b"<html><body>" + b"<div>" * 5000 + b"text" + b"</div>" * 5000 + b"</body></html>", "nested more"),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_a_malformed_export_fails_naming_the_file_and_the_reason(tmp_path: Path, name: str) -> None:
    data, reason = MALFORMED[name]
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ParseError) as caught:
        parse_unit(Unit(path), ParseOptions())
    assert caught.value.path == str(path)
    assert reason in caught.value.reason


def test_runs_of_unclosed_tags_are_read_in_linear_time(tmp_path: Path) -> None:
    path = tmp_path / "unclosed.html"
    path.write_text("<p>Restart the ingress controller.</p>" + "<a " * 70_000)
    started = time.perf_counter()
    assert "Restart the ingress controller." in one(path).text
    assert time.perf_counter() - started < 20  # the quadratic parser took minutes


def test_an_oversized_export_is_refused_by_the_file_size_limit(tmp_path: Path) -> None:
    path = build_docx(tmp_path / "big.docx")
    with pytest.raises(ParseError, match="KB_MAX_FILE_MB"):
        parse_unit(Unit(path), ParseOptions(max_bytes=path.stat().st_size - 1))


def test_other_csv_files_are_not_taken_for_notion_databases(tmp_path: Path) -> None:
    (tmp_path / "metrics.csv").write_text("ts,value\n1,2\n")
    units, skipped = discover([tmp_path])
    assert skipped == [] and [u.path.name for u in units] == ["metrics.csv"]
    # read as a CSV that may be an incident tool's export: it is none, and the error says what it holds
    with pytest.raises(KBError, match=r"metrics\.csv.*(ts|value)"):
        parse_unit(units[0], ParseOptions())


def test_a_folder_of_every_export_ingests_in_one_run_beside_bad_files(fake_kb: Ingestor, tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    for export in ("confluence", "gdocs", "notion"):  # the wiki exports (the files beside them are incident tools')
        shutil.copytree(SAMPLES / export, folder / export)
    (folder / "word").mkdir()
    build_docx(folder / "word" / "dns-postmortem.docx")
    for name in ("broken.docx", "not-confluence.html"):
        (folder / name).write_bytes(MALFORMED[name][0])

    report = fake_kb.run([folder])
    failed = {Path(f.path).name: f.error or "" for f in report.failed}
    assert set(failed) == {"broken.docx", "not-confluence.html"}
    assert "not a readable zip archive" in failed["broken.docx"]
    assert "no document text" in failed["not-confluence.html"]
    stored = fake_kb.store.record_index()
    formats = {meta.id: fake_kb.store.get_record(meta.id).format for meta in stored.values()}
    assert formats == {
        "sre-postmortem-2024-03-12-checkout-502s": "confluence",
        "redis-failover-runbook": "confluence",
        "postmortempgbouncerpoolexhaustion": "google-docs",
        "dns-postmortem": "docx",
        "postmortem-redis-session-cache-failover": "notion",
        "kafka-consumer-lag-billing": "notion",
        "checkout-latency-after-cdn-change": "notion",
    }
    assert [Path(p).name for p in report.skipped] == ["98306.png"]  # an attachment: not read
    assert all(meta.chunks > 0 for meta in stored.values())

    (folder / "broken.docx").write_bytes(b"still not a zip")
    again = fake_kb.run([folder])
    assert again.added == again.updated == 0 and again.unchanged == len(stored)
    assert {Path(f.path).name for f in again.failed} == {"broken.docx", "not-confluence.html"}
    assert set(fake_kb.store.record_index()) == set(stored)  # a failing file loses nothing stored


def test_a_changed_notion_database_updates_the_pages_its_rows_describe(fake_kb: Ingestor, tmp_path: Path) -> None:
    folder = tmp_path / "notion"
    shutil.copytree(NOTION, folder)
    fake_kb.run([folder])
    assert fake_kb.store.get_record("kafka-consumer-lag-billing").owner == "Li Wei"
    table = folder / NOTION_DATABASE.name
    table.write_text(table.read_text(encoding="utf-8-sig").replace("Li Wei", "Noor Haddad"), encoding="utf-8")
    (folder / NOTION_DATABASE.stem / "Checkout latency after CDN change 0f0e0d0c0b0a09080706050403020100.md").write_text(
        "# Checkout latency after CDN change\n\n## Summary\n\nA CDN rule change doubled checkout latency.\n"
    )

    report = fake_kb.run([folder])
    assert fake_kb.store.get_record("kafka-consumer-lag-billing").owner == "Noor Haddad"  # its page, unchanged
    titled = [m for m in fake_kb.store.record_index().values() if m.title == "Checkout latency after CDN change"]
    assert len(titled) == 1  # the row now has a page: that page, no longer a record of the table
    page = fake_kb.store.get_record(titled[0].id)
    assert page.source_path.endswith(".md") and page.owner == "Ana Costa" and "doubled" in page.text
    assert report.updated >= 1
    assert fake_kb.run([folder]).added == 0 and fake_kb.run([folder]).updated == 0


def test_an_uploaded_notion_zip_and_word_file_ingest_as_from_a_folder(fake_kb: Ingestor, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in NOTION.rglob("*"):
            if path.is_file():
                archive.write(path, "Export-3f2a/" + path.relative_to(NOTION).as_posix())
    docx = build_docx(tmp_path / "dns.docx")
    batch = tmp_path / "uploads" / "batch"
    saved = save_uploads(batch, [("notion-export.zip", buffer.getvalue()), ("dns.docx", docx.read_bytes())], 10**7)
    assert saved.refused == []

    report = fake_kb.run([batch])
    assert report.failed == []
    assert {fake_kb.store.get_record(rid).format for rid in fake_kb.store.record_index()} == {"notion", "docx"}
    assert fake_kb.store.get_record("kafka-consumer-lag-billing").owner == "Li Wei"  # the layout kept


def test_a_page_naming_thousands_of_fonts_asks_fontconfig_a_bounded_number_of_times(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bs4 import BeautifulSoup

    from ingest.sources import css_fonts

    asked: list[str] = []
    monkeypatch.setattr(css_fonts, "_fixed_pitch", lambda family: asked.append(family) or False)
    rules = "".join(f'.c{n}{{font-family:"Font {n}"}}' for n in range(3000))
    soup = BeautifulSoup(f"<html><head><style>{rules}.m{{font-family:x,monospace}}</style></head></html>", "lxml")
    assert css_fonts.monospace_classes(soup) == {"m"}
    assert 0 < len(asked) <= 16
