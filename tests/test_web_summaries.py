"""The Summaries page with Streamlit's AppTest: a stored chat log made into a cited postmortem draft and a
catch-up (links to the cited messages, the download holding the Markdown shown), and uploads read without
being stored (a Slack export as a zip, a transcript over the size limit, broken JSON named with its reason)."""

from __future__ import annotations

import io
import re
import tempfile
import zipfile
from pathlib import Path

import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT, sample_store_copy
from tests.test_web import app, texts

pytestmark = pytest.mark.slow
PAGE = "views/summaries.py"
CHAT = "2024-09-05-checkout-bad-migration"
SLACK = ROOT / "data" / "slack" / "2024-11-29-inc-black-friday-kafka"
#: a shown citation of a stored log: "[\[3\] 14:02](./document?id=ID&at=START)"
LINK = re.compile(r"\[\\\[(\d+)\\\][^\]]*\]\(\./document\?id=([\w-]+)&at=(\d+)\)")


@pytest.fixture
def sample(pristine_sample_store: Path, tmp_path: Path) -> Path:
    return sample_store_copy(pristine_sample_store, tmp_path / "store")


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[bytes, str | None]]:
    """What each download button serves, as the page hands it to Streamlit's media storage (and it is stored)."""
    served: list[tuple[bytes, str | None]] = []
    keep = MemoryMediaFileStorage.load_and_get_id

    def load_and_get_id(self: MemoryMediaFileStorage, path_or_data: object, mimetype: str, kind: object,
                        filename: str | None = None) -> str:
        if isinstance(path_or_data, (bytes, str)):
            served.append((path_or_data.encode() if isinstance(path_or_data, str) else path_or_data, filename))
        return keep(self, path_or_data, mimetype, kind, filename)  # type: ignore[arg-type]

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", load_and_get_id)
    return served


def section(markdown: str, heading: str) -> list[str]:
    """The list lines of one ``## heading`` section of a Markdown document."""
    body = markdown.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return [line for line in body.splitlines() if line.startswith("- ")]


def test_a_stored_chat_log_drafted_with_linked_citations_and_its_download(
    sample: Path, monkeypatch: pytest.MonkeyPatch, downloads: list[tuple[bytes, str | None]]
) -> None:
    at = app(sample, monkeypatch)
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    at.selectbox(key="sum_id").set_value(CHAT).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.query_params["id"] in (CHAT, [CHAT])  # the address names the chat log
    shown = texts(at)
    assert "Assembled without an LLM" in shown
    assert [h.value for h in at.subheader][:2] == ["Summary", "Leadup"] and "Timeline" in [h.value for h in at.subheader]

    # the timeline: one line per judged message, with its time, author and a link to the message
    timeline = [str(m.value) for m in at.markdown if str(m.value).startswith("- `")]
    assert len(timeline) >= 5, timeline
    links = {int(n): (doc, int(start)) for line in timeline for n, doc, start in LINK.findall(line)}
    assert len(links) >= len(timeline) and {doc for doc, _ in links.values()} == {CHAT}

    # the download is the draft's Markdown: the same timeline, the same numbered references
    markdown, filename = downloads[-1][0].decode(), downloads[-1][1]
    assert filename == f"{CHAT}-postmortem-draft.md" and markdown.startswith("# Incident summary: ")
    assert len(section(markdown, "Timeline")) == len(timeline)
    for line, item in zip(timeline, section(markdown, "Timeline"), strict=True):
        numbers = [int(n) for n, _, _ in LINK.findall(line)]
        assert item.endswith("".join(f"[{n}]" for n in numbers)), (line, item)
    refs = {int(n): int(start) for n, start in re.findall(r"^- \[(\d+)\] `[^`]+`.*, chars (\d+)-\d+$", markdown, re.M)}
    assert refs == {n: start for n, (_, start) in links.items() if n in refs} and set(links) <= set(refs)

    # a catch-up of the same log, with its own download
    at.radio(key="sum_mode").set_value("Catch-up").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Status" in [h.value for h in at.subheader] and "Who is doing what" in [h.value for h in at.subheader]
    markdown, filename = downloads[-1][0].decode(), downloads[-1][1]
    assert filename == f"{CHAT}-catch-up.md" and markdown.startswith("# Catch-up: ")
    status = [str(m.value) for m in at.markdown if "./document?id=" in str(m.value)]
    assert status and all(f"./document?id={CHAT}&at=" in s for s in status)


def zipped(folder: Path, broken: str | None = None) -> bytes:
    """``folder`` as a zip under its own name; the member ``broken`` (a path inside it) replaced by bad JSON."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                rel = path.relative_to(folder).as_posix()
                z.writestr(f"{folder.name}/{rel}", b'[{"ts": "1", "text": ' if rel == broken else path.read_bytes())
    return out.getvalue()


def test_uploads_are_summarised_unstored_and_bad_ones_named(
    sample: Path, monkeypatch: pytest.MonkeyPatch, downloads: list[tuple[bytes, str | None]]
) -> None:
    monkeypatch.setenv("KB_MAX_FILE_MB", "0.1")
    at = app(sample, monkeypatch)
    at.switch_page(PAGE).run()
    before = sorted(p.relative_to(sample) for p in sample.rglob("*"))
    temporary = set(Path(tempfile.gettempdir()).glob("kb-chat-*"))
    at.radio(key="sum_source").set_value("Upload a chat log").run()

    # a Slack export (two channels) as a zip: the longest channel first, citations by line and time
    at.file_uploader(key="sum_upload").set_value([("black-friday.zip", zipped(SLACK), "application/zip")]).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    channels = at.selectbox(key="sum_channel")
    assert len(channels.options) == 2 and "inc-2024-11-29-kafka-lag" in channels.options[0]
    timeline = [str(m.value) for m in at.markdown if str(m.value).startswith("- `")]
    assert len(timeline) >= 5 and all(re.search(r"\\\[\d+\\\] line \d+ \d\d\\:\d\d$", t) for t in timeline), timeline
    assert "./document?" not in texts(at) and "id" not in at.query_params  # not stored: no link, no address
    assert "lag" in downloads[-1][0].decode().lower()

    # the same export with a broken day file: the error names the upload, the member and the reason
    bad = zipped(SLACK, broken="sre-oncall/2024-11-29.json")
    at.file_uploader(key="sum_upload").set_value([("black-friday.zip", bad, "application/zip")]).run()
    errors = [str(e.value).replace("\\", "") for e in at.error]
    member = f"{SLACK.name}/sre-oncall/2024-11-29.json"
    assert any(e.startswith(f"black-friday.zip: {member}: broken JSON at line 1") for e in errors), errors

    # a lone broken JSON file, and a transcript over the size limit
    at.file_uploader(key="sum_upload").set_value([("export.json", b'{"channels": [', "application/json")]).run()
    errors = [str(e.value).replace("\\", "") for e in at.error]
    assert any(e.startswith("export.json: broken JSON at line 1 column 15") for e in errors), errors
    big = (ROOT / "data" / "chats" / f"{CHAT}.txt").read_bytes() * 10
    at.file_uploader(key="sum_upload").set_value([("huge.txt", big, "text/plain")]).run()
    errors = [str(e.value).replace("\\", "") for e in at.error]
    assert any(e.startswith("huge.txt: larger than the upload limit") for e in errors), errors
    assert not at.exception, [e.value for e in at.exception]

    # nothing uploaded was stored
    assert sorted(p.relative_to(sample) for p in sample.rglob("*")) == before
    assert set(Path(tempfile.gettempdir()).glob("kb-chat-*")) == temporary


def test_an_address_opens_its_chat_log(sample: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KB_DATA_DIR", str(sample))
    at = AppTest.from_file(str(ROOT / "ui" / "web" / "app.py"), default_timeout=180)
    at.run()
    at.query_params["id"] = CHAT  # the Summaries page's own address (the Search page keeps only its own)
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="sum_id").value == CHAT
    assert f"./document?id={CHAT}&at=" in texts(at)
