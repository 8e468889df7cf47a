"""Every source format, kind detection, and a clear per-file error for every kind of bad input."""

from __future__ import annotations

import json
from io import BytesIO
from pathlib import Path
from types import ModuleType

import pytest
from pypdf import PdfReader, PdfWriter

from ingest.sources import Unit, discover, parse_unit
from ingest.sources.base import ParseOptions
from kb.core.errors import EmptyDocument, ParseError
from kb.core.models import Kind

POSTMORTEM = """---
title: Checkout 502s after deploy
date: 2024-02-14
services: [checkout, api-gateway]
severity: sev2
tags: [deploy]
owner: Tomas Ruiz
---
# Checkout 502s after deploy

Intro paragraph.

## Summary
Checkout failed for 20 minutes after v4.12.

## Timeline (UTC)
- 14:02 deploy
- 14:06 `CheckoutHighErrorRate` fired

## Root Cause
A missing env var; pods logged `dial tcp: lookup payments: no such host`.

### Details
More about the root cause.

## Action items
- [ ] Add readiness check
"""

OPTIONS = ParseOptions()


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def one(path: Path, options: ParseOptions = OPTIONS):  # type: ignore[no-untyped-def]
    records = parse_unit(Unit(path), options)
    assert len(records) == 1
    return records[0]


def test_markdown_postmortem_with_front_matter(tmp_path: Path) -> None:
    rec = one(write(tmp_path / "x" / "pm.md", POSTMORTEM))
    assert rec.kind == Kind.postmortem  # from its sections, the folder says nothing
    assert rec.title == "Checkout 502s after deploy"
    assert rec.services == ["checkout", "api-gateway"]
    assert rec.severity == "SEV2"
    assert str(rec.date) == "2024-02-14"
    assert rec.owner == "Tomas Ruiz"
    assert "CheckoutHighErrorRate" in rec.alerts
    assert any("no such host" in e for e in rec.error_strings)
    names = [s.name for s in rec.sections]
    assert names == ["body", "summary", "timeline", "root_cause", "root_cause", "action_items"]
    root = rec.sections[3]
    assert rec.text[root.start : root.end].startswith("## Root Cause")
    assert "title:" not in rec.text  # front matter is metadata, not text


def test_markdown_without_front_matter_takes_title_and_metadata_from_text(tmp_path: Path) -> None:
    body = "# Redis failover logged users out\n\n**Date:** 2023-04-21\n**Severity:** SEV3\n\n## Impact\nUsers logged out.\n"
    rec = one(write(tmp_path / "postmortems" / "r.md", body))
    assert rec.title == "Redis failover logged users out"
    assert rec.kind == Kind.postmortem  # folder name
    assert rec.severity == "SEV3"
    assert str(rec.date) == "2023-04-21"


def test_plain_text_title_is_a_heading_line_else_the_file_name(tmp_path: Path) -> None:
    wrapped = (
        "During the nightly batch the primary database ran out of connections and the\n"
        "api returned errors for forty minutes until the pool was resized.\n\nRoot cause\nA leak.\n"
    )
    rec = one(write(tmp_path / "postmortems" / "incident_20240305-db-pool.txt", wrapped))
    assert rec.title == "Incident db pool (2024-03-05)"  # never a cut first paragraph
    assert str(rec.date) == "2024-03-05"  # the text names no date: the file name does
    headed = "Database pool exhausted\n\nThe pool ran out.\nDate: 2023-01-02\n"
    rec = one(write(tmp_path / "postmortems" / "2024-03-05-pool.txt", headed))
    assert rec.title == "Database pool exhausted"
    assert str(rec.date) == "2023-01-02"  # the text's own date wins over the file name's


def test_runbook_kind_from_sections_and_override(tmp_path: Path) -> None:
    text = "# Fix it\n## Symptoms\nx\n## Triage\ny\n## Diagnosis\nz\n## Verification\nw\n"
    path = write(tmp_path / "misc" / "fix.md", text)
    assert one(path).kind == Kind.runbook
    assert one(path, ParseOptions(kind=Kind.postmortem)).kind == Kind.postmortem


def test_plain_text_document(tmp_path: Path) -> None:
    text = (
        "Replica lag on orders-db\nDate: 2024-08-13\nSeverity: SEV3\nServices: orders, orders-db\n\n"
        "Summary\nThe replica fell behind.\n\nRoot cause\nAn analytics query.\n"
    )
    rec = one(write(tmp_path / "postmortems" / "lag.txt", text))
    assert rec.format == "text"
    assert rec.title == "Replica lag on orders-db"
    assert rec.services == ["orders", "orders-db"]
    assert [s.name for s in rec.sections] == ["body", "summary", "root_cause"]


def test_transcript_messages_in_order_with_continuations(tmp_path: Path) -> None:
    text = (
        "[2024-05-14 10:02:11] priya: PayFlow timeouts, anyone?\n"
        "[2024-05-14 10:03:00] elena: looking\n"
        "  payments-gateway  timeout after 8000ms\n"
        "  payments-gateway  timeout after 8000ms\n"
        "[2024-05-14 10:05:42] elena: failing over to CardStream\n"
    )
    rec = one(write(tmp_path / "chats" / "2024-05-14-payflow.txt", text))
    assert rec.kind == Kind.chat and rec.format == "transcript"
    assert [m.author for m in rec.messages] == ["priya", "elena", "elena"]
    assert rec.messages[1].text.count("timeout after 8000ms") == 2
    assert str(rec.messages[2].ts) == "2024-05-14 10:05:42"
    assert str(rec.date) == "2024-05-14"
    for m in rec.messages:
        assert rec.text[m.start : m.end].startswith("[2024-05-14")


def make_slack_export(root: Path, day_payload: object | None = None) -> Path:
    export = root / "export"
    write(
        export / "users.json",
        json.dumps(
            [
                {"id": "U1", "name": "priya", "profile": {"display_name": "priya", "real_name": "Priya N"}},
                {"id": "U2", "name": "tomas", "profile": {"display_name": "", "real_name": "Tomas R"}},
            ]
        ),
    )
    write(export / "channels.json", json.dumps([{"id": "C1", "name": "inc-checkout", "topic": {"value": "5xx"}}]))
    messages = (
        day_payload
        if day_payload is not None
        else [
            {
                "type": "message",
                "user": "U1",
                "text": "<@U2> checkout 5xx, config push?",
                "ts": "1709074800.000100",
                "thread_ts": "1709074800.000100",
                "reply_count": 1,
            },
            {"type": "message", "user": "U1", "text": "rolled back", "ts": "1709075400.000100"},
            {
                "type": "message",
                "user": "U2",
                "text": "yes, PGPASSWORD=Zx9-checkout-Rw22 in the values file",
                "ts": "1709074900.000100",
                "thread_ts": "1709074800.000100",
                "parent_user_id": "U1",
            },
            {"type": "message", "subtype": "channel_join", "user": "U2", "text": "joined", "ts": "1709074700.000100"},
        ]
    )
    write(export / "inc-checkout" / "2024-02-27.json", json.dumps(messages))
    return export


def test_slack_export_threads_names_and_redaction(tmp_path: Path) -> None:
    export = make_slack_export(tmp_path)
    units, _ = discover([tmp_path])
    assert units == [Unit(export, slack_export=True)]
    (rec,) = parse_unit(units[0], OPTIONS)
    assert rec.kind == Kind.chat and rec.format == "slack" and rec.id == "inc-checkout"
    assert [m.author for m in rec.messages] == ["priya", "tomas", "priya"]  # reply follows its parent
    assert rec.messages[0].text.startswith("@tomas")
    assert "Zx9-checkout-Rw22" not in rec.text and rec.redactions == 1
    assert rec.messages[0].ts is not None and rec.messages[0].ts.hour == 23


def test_broken_slack_json_names_the_file(tmp_path: Path) -> None:
    export = make_slack_export(tmp_path)
    (export / "inc-checkout" / "2024-02-27.json").write_text('[{"type": "message", "ts": ')
    with pytest.raises(ParseError) as err:
        parse_unit(Unit(export, slack_export=True), OPTIONS)
    assert err.value.path.endswith("2024-02-27.json")
    assert "broken JSON" in err.value.reason


def test_deeply_nested_slack_json_is_an_error_not_a_crash(tmp_path: Path) -> None:
    export = make_slack_export(tmp_path)
    (export / "inc-checkout" / "2024-02-27.json").write_text("[" * 100000 + "]" * 100000)
    with pytest.raises(ParseError):
        parse_unit(Unit(export, slack_export=True), OPTIONS)


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.md", b"", "empty file"),
        ("blank.md", b"   \n\n", "no text"),
        ("binary.md", bytes(range(256)) * 4, "binary data"),
        ("latin1.txt", "caf\xe9 au lait\n".encode("latin-1"), "not valid UTF-8"),
        ("fake.pdf", b"this is not a pdf", "not a PDF"),
        ("corrupt.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> garbage", "PDF"),
        ("notes.docx", b"PK\x03\x04", "not a readable zip archive"),
        ("notes.doc", b"\xd0\xcf\x11\xe0", "unsupported file type"),
    ],
)
def test_bad_files_get_a_clear_error_naming_the_file(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    path = write(tmp_path / name, content)
    with pytest.raises(ParseError) as err:
        parse_unit(Unit(path), OPTIONS)
    assert err.value.path == str(path)
    assert reason in err.value.reason


def test_oversized_file_is_refused_with_the_limit(tmp_path: Path) -> None:
    path = write(tmp_path / "big.log", "[2024-01-01 00:00:00] a: b\n" * 50_000)
    with pytest.raises(ParseError, match="over the"):
        parse_unit(Unit(path), ParseOptions(max_bytes=100_000))


def test_pdf_text_per_page(tmp_path: Path, pdfgen: ModuleType) -> None:
    md = POSTMORTEM.replace("Intro paragraph.", "Intro paragraph. " * 400)
    path = write(tmp_path / "postmortems" / "pm.pdf", pdfgen.markdown_to_pdf(md))
    rec = one(path)
    assert rec.format == "pdf" and rec.kind == Kind.postmortem
    assert len(rec.front_matter["page_offsets"]) >= 2  # type: ignore[arg-type]
    assert {"summary", "timeline", "root_cause", "action_items"} <= {s.name for s in rec.sections}
    assert "Checkout 502s after deploy" in rec.title
    assert rec.severity == "SEV2"


def encrypted(pdf: bytes, user_password: str, algorithm: str) -> bytes:
    """The same PDF, encrypted (an empty user password opens it without asking)."""
    writer = PdfWriter()
    for page in PdfReader(BytesIO(pdf)).pages:
        writer.add_page(page)
    writer.encrypt(user_password=user_password, owner_password="owner-pw", algorithm=algorithm)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def test_encrypted_pdf_says_it_needs_a_password(tmp_path: Path, pdfgen: ModuleType) -> None:
    path = write(tmp_path / "locked.pdf", encrypted(pdfgen.markdown_to_pdf(POSTMORTEM), "s3cret-open", "AES-128"))
    with pytest.raises(ParseError, match="encrypted PDF"):
        parse_unit(Unit(path), OPTIONS)


def test_pdf_encrypted_only_with_an_owner_password_is_read(tmp_path: Path, pdfgen: ModuleType) -> None:
    pdf = encrypted(pdfgen.markdown_to_pdf(POSTMORTEM), "", "AES-256")
    rec = one(write(tmp_path / "postmortems" / "restricted.pdf", pdf))
    assert "Root Cause" in rec.text or "Root cause" in rec.text


def test_truncated_pdf_is_reported(tmp_path: Path, pdfgen: ModuleType) -> None:
    data = pdfgen.markdown_to_pdf(POSTMORTEM)
    path = write(tmp_path / "cut.pdf", data[: len(data) // 3])
    with pytest.raises(ParseError) as err:
        parse_unit(Unit(path), OPTIONS)
    assert err.value.path == str(path)


def test_image_only_pdf_says_there_is_no_text(tmp_path: Path) -> None:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    out = BytesIO()
    writer.write(out)
    path = write(tmp_path / "scan.pdf", out.getvalue())
    with pytest.raises(EmptyDocument, match="no extractable text"):
        parse_unit(Unit(path), OPTIONS)


def test_discover_skips_hidden_and_unknown_files(tmp_path: Path) -> None:
    write(tmp_path / "a.md", "# A\ntext\n")
    write(tmp_path / ".git" / "b.md", "# B\n")
    write(tmp_path / "img.png", b"\x89PNG")
    units, skipped = discover([tmp_path])
    assert [u.path.name for u in units] == ["a.md"]
    assert [p.name for p in skipped] == ["img.png"]


# -- headings of large Markdown files -------------------------------------------------------------------

TRICKY_MARKDOWN = """# Title

Intro paragraph
over two lines.

## Impact
Text with a # not a heading.

```bash
# a shell comment, not a heading
kubectl get pods
```

~~~
## inside a tilde fence
~~~

    # indented code, not a heading

Setext heading
over two lines
==============

- a list item
- # a heading inside a list item is nested
---

> # a quoted heading
> more

Timeline
--------

### Closing hashes ###
####### seven hashes is text
#no space is text
"""


def test_the_line_scanner_finds_the_headings_the_commonmark_parser_finds() -> None:
    from ingest.sources import markdown

    # top-level headings agree; the scanner leaves out those nested in lists and quotes
    nested = {"a heading inside a list item is nested", "a quoted heading"}
    parsed = [h for h in markdown._parsed_headings(TRICKY_MARKDOWN) if h[1] not in nested]
    assert markdown.scanned_headings(TRICKY_MARKDOWN) == parsed
    assert [h[1] for h in parsed] == ["Title", "Impact", "Setext heading\nover two lines", "Timeline",
                                      "Closing hashes"]
    for path in sorted((Path(__file__).resolve().parent.parent / "data").rglob("*.md")):
        body = path.read_text(encoding="utf-8")
        body = body[body.index("\n---", 3) + 4:] if body.startswith("---\n") else body
        assert markdown.scanned_headings(body) == markdown._parsed_headings(body), path.name


def test_a_file_of_many_lines_is_split_at_its_headings_by_the_line_scanner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingest.sources import markdown

    def parser_not_used(body: str) -> list[markdown.Heading]:
        raise AssertionError("the CommonMark parser read a file of more than MAX_PARSER_LINES lines")

    monkeypatch.setattr(markdown, "_parsed_headings", parser_not_used)
    filler = "a line\n\n" * markdown.MAX_PARSER_LINES
    path = tmp_path / "big.md"
    path.write_text(f"# Big\n\n## Impact\n{filler}## Timeline\n- 10:00 paged\n```\n## not a heading\n```\n")
    record = markdown.parse(path, ParseOptions(redact=False))[0]
    assert record.title == "Big"
    assert [(s.name, s.heading) for s in record.sections] == [
        ("body", "Big"), ("impact", "Impact"), ("timeline", "Timeline")
    ]
