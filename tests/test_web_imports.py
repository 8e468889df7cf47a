"""The web Ingest page takes the exported documents (Confluence HTML, Word) and reports a broken one by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_imports import CONFLUENCE_PAGE, build_docx
from tests.test_web import app, texts

pytestmark = pytest.mark.slow


def test_upload_confluence_and_word_exports_with_a_broken_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(tmp_path / "kb", monkeypatch)
    at.switch_page("views/ingest.py").run()
    docx = build_docx(tmp_path / "dns-postmortem.docx").read_bytes()
    at.file_uploader(key="uploads").set_value([
        (CONFLUENCE_PAGE.name, CONFLUENCE_PAGE.read_bytes(), "text/html"),
        ("dns-postmortem.docx", docx, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        ("broken.docx", b"PK\x03\x04 not a zip", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ]).run()  # fmt: skip
    at.button(key="ingest-go").click().run()
    assert not at.exception
    shown = texts(at)
    assert "**2** added" in shown and "**1** failed" in shown, shown[-2000:]
    table = at.dataframe[0].value
    errors = dict(zip(table["file"], table["error"], strict=True))
    assert "not a readable zip archive" in errors["broken.docx"]
    assert errors["dns-postmortem.docx"] == "" and errors[CONFLUENCE_PAGE.name] == ""
