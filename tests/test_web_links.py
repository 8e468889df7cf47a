"""Links in the web UI: the addresses and labels ui/web/links.py builds (fast), and with Streamlit's AppTest the
document page opened at a passage (its section or chat message marked), the Runbooks page's view and topic taken
from the address, a draft's citation marks as links."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from streamlit.testing.v1 import AppTest

from kb.core.models import Citation
from tests.conftest import ROOT, sample_store_copy
from ui.web.links import anchor_of, citation_label, citation_link, citation_links, document_url, marker_link

APP = str(ROOT / "ui" / "web" / "app.py")
POSTMORTEM = "2023-04-21-session-cache-failover-logouts"
CHAT = "2025-01-08-session-cache-failover"


def test_a_citation_link_names_the_passage_and_escapes_its_label() -> None:
    c = Citation(doc_id="pm-1", section="root_cause", start=120, end=300)
    assert citation_label(c) == "pm-1 §root_cause"
    assert citation_link(c) == "[pm\\-1 §root\\_cause](./document?id=pm-1&at=120)"
    hostile = Citation(doc_id="a&at=1](javascript:x)", section="<img src=x>", start=5, end=6)
    link = citation_link(hostile)
    label, url = re.fullmatch(r"\[(.*)\]\((\S+)\)", link).groups()  # type: ignore[union-attr]
    assert "<" not in label.replace("\\<", "") and "](" not in label.replace("\\]\\(", "")
    assert parse_qs(urlparse(url).query) == {"id": ["a&at=1](javascript:x)"], "at": ["5"]}
    assert marker_link(3, c) == "[\\[3\\]](./document?id=pm-1&at=120)"
    # one link per passage, in order
    assert citation_links([c, c, hostile]).count("](./document?") == 2
    assert document_url("pm-1") == "./document?id=pm-1"


def test_anchors_are_plain_names() -> None:
    assert anchor_of("section", 3) == "section-3"
    with pytest.raises(ValueError):
        anchor_of('x"); alert(1); ("', 1)


# -- pages -------------------------------------------------------------------------------------------


@pytest.fixture
def sample(pristine_sample_store: Path, tmp_path: Path) -> Path:
    return sample_store_copy(pristine_sample_store, tmp_path / "store")


def document_at(data_dir: Path, monkeypatch: pytest.MonkeyPatch, doc_id: str, at: str) -> AppTest:
    monkeypatch.setenv("KB_DATA_DIR", str(data_dir))
    app = AppTest.from_file(APP, default_timeout=180)
    app.run()
    app.query_params["id"] = doc_id
    app.query_params["at"] = at
    app.switch_page("views/document.py").run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def marked(app: AppTest) -> list[str]:
    return [str(c.value) for c in app.caption if "Cited passage" in str(c.value)]


@pytest.mark.slow
def test_the_document_page_marks_the_cited_section_or_message(sample: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kb.core.settings import Settings
    from kb.knowledge import open_kb

    record = open_kb(Settings(data_dir=sample, _env_file=None)).record(POSTMORTEM)  # type: ignore[call-arg]
    root = next(s for s in record.sections if s.name == "root_cause")
    app = document_at(sample, monkeypatch, POSTMORTEM, str(root.start + 10))
    assert len(marked(app)) == 1
    opened = [e for e in app.expander if e.proto.expanded]
    assert root.heading in [e.label for e in opened]
    shown = "\n".join(str(m.value) for e in opened if e.label == root.heading for m in e.markdown)
    assert record.text[root.start + 40 : root.start + 80].split()[1] in shown.replace("\\", "")

    # an offset outside the text, or not a number, marks nothing and breaks nothing
    for at in ("999999999", "-3", "12abc", "<script>"):
        assert marked(document_at(sample, monkeypatch, POSTMORTEM, at)) == [], at

    chat = open_kb(Settings(data_dir=sample, _env_file=None)).record(CHAT)  # type: ignore[call-arg]
    message = chat.messages[len(chat.messages) // 2]
    app = document_at(sample, monkeypatch, CHAT, str(message.start + 5))
    assert len(marked(app)) == 1
    scripts = [str(h.proto.body) for h in app.get("html")]
    anchor = anchor_of("message", chat.messages.index(message))
    assert len(scripts) == 1 and f'".st-key-{anchor}"' in scripts[0]  # the page scrolls to that message


@pytest.mark.slow
def test_runbooks_page_takes_its_view_and_topic_from_the_address(sample: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KB_DATA_DIR", str(sample))
    app = AppTest.from_file(APP, default_timeout=180)
    app.run()
    app.query_params["view"] = "Draft a runbook"
    app.query_params["topic"] = "redis sentinel failover logs users out"
    app.switch_page("views/runbooks.py").run()
    assert not app.exception, [e.value for e in app.exception]
    assert app.text_input(key="topic").value == "redis sentinel failover logs users out"
    app.button(key="draft-go").click().run()
    assert not app.exception, [e.value for e in app.exception]
    draft = app.session_state["draft"]
    body = next(str(m.value) for m in app.markdown if str(m.value).startswith("# Runbook draft"))
    # every citation of the draft is a link to its passage, numbered as in the downloadable Markdown
    for item in draft.items:
        for c in item.citations:
            assert f"](./document?id={c.doc_id}&at={c.start})" in body
    marks = re.findall(r"\[\\\[(\d+)\\\]\]\(\./document\?id=[^)]+\)", body)
    assert marks and set(marks) == set(re.findall(r"\[(\d+)\]", draft.markdown))
