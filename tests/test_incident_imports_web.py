"""The Ingest page takes incident tools' exports (JSON and CSV) like any other upload (AppTest, real model)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_web import app, texts

pytestmark = pytest.mark.slow
SAMPLES = Path(__file__).parent / "imports"


def test_upload_incident_exports_and_a_broken_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(tmp_path / "kb", monkeypatch)
    at.switch_page("views/ingest.py").run()
    at.file_uploader(key="uploads").set_value([
        ("pagerduty-incidents.json", (SAMPLES / "pagerduty-incidents.json").read_bytes(), "application/json"),
        ("jira-issues.csv", (SAMPLES / "jira-issues.csv").read_bytes(), "text/csv"),
        ("broken.json", b'{"incidents": [{"incident_number": 1,', "application/json"),
    ]).run()
    at.button(key="ingest-go").click().run()
    assert not at.exception, [e.value for e in at.exception]
    shown = texts(at)
    assert "**4** added" in shown, shown[-2000:]
    assert "broken.json" in shown and "broken JSON at line 1" in shown
