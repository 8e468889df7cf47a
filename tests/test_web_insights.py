"""The Insights page with AppTest, over the sample corpus plus a copy of one postmortem and a chat log that no
postmortem covers: the data each chart is drawn from equals the incident counts taken from the store on their
own, the severity colours are the palette's, labels are not cut, and failure modes link to their documents."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from kb.core.models import Kind, RecordMeta
from kb.core.settings import Settings
from kb.knowledge import open_kb
from kb.ops.insights import OTHER_SERVICES, UNKNOWN_SEVERITY
from kb.runbooks.stale import stale_runbooks
from tests.conftest import DATA, ROOT, sample_store_copy
from ui.web.charts import SEVERITY_COLOURS

pytestmark = pytest.mark.slow
APP = str(ROOT / "ui" / "web" / "app.py")
COPIED = "2024-09-05-checkout-rollback-bad-migration"
ORPHAN_CHAT = """[2025-11-03 02:14:09] kenji: notifications queue depth at 40k and climbing, pages are going out late
[2025-11-03 02:16:40] kenji: the textbridge webhook returns 429 for every batch
[2025-11-03 02:31:05] kenji: lowered the notifications send rate, the queue is draining
"""


@pytest.fixture(scope="module")
def store(pristine_sample_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample store plus the same postmortem kept a second time and an incident known only from its chat."""
    base = tmp_path_factory.mktemp("insights-web")
    store = sample_store_copy(pristine_sample_store, base / "store")
    extra = base / "extra"
    copy = extra / "exports" / "postmortems" / f"{COPIED}-export.md"
    copy.parent.mkdir(parents=True)
    copy.write_text((DATA / "postmortems" / f"{COPIED}.md").read_text(encoding="utf-8"), encoding="utf-8")
    chat = extra / "chats" / "2025-11-03-notifications-backlog.txt"
    chat.parent.mkdir(parents=True)
    chat.write_text(ORPHAN_CHAT, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_") or k == "KB_CACHE_DIR"}
    done = subprocess.run(
        [sys.executable, "-m", "ui.cli.main", "--data-dir", str(store), "ingest", str(extra)],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=900, check=False,
    )
    assert done.returncode == 0 and "added 2" in done.stdout, done.stdout + done.stderr
    return store


@pytest.fixture(scope="module")
def metas(store: Path) -> dict[str, RecordMeta]:
    return open_kb(Settings(data_dir=store, _env_file=None)).record_metas()  # type: ignore[call-arg]


def month(meta: RecordMeta) -> str:
    assert meta.date is not None
    return f"{meta.date.year:04d}-{meta.date.month:02d}"


@pytest.fixture(scope="module")
def expected(metas: dict[str, RecordMeta]) -> list[RecordMeta]:
    """The incidents, counted from the store's metadata on their own: one per distinct postmortem (the copy has
    the same title and day as the sample's), plus the chat log dated on a day with no postmortem. Every other
    chat log of the sample is dated on the day of a postmortem (its incident's)."""
    postmortems = [m for m in metas.values() if m.kind == Kind.postmortem]
    distinct = {(m.date, m.title): m for m in sorted(postmortems, key=lambda m: m.id)}
    assert len(postmortems) == len(distinct) + 1  # the copy
    days = {m.date for m in postmortems}
    alone = [m for m in metas.values() if m.kind == Kind.chat and m.date not in days]
    assert [m.id for m in alone] == ["2025-11-03-notifications-backlog"]
    return [*distinct.values(), *alone]


def insights_page(store: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("KB_DATA_DIR", str(store))
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    at.switch_page("views/insights.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def charts(at: AppTest) -> list[tuple[dict[str, Any], pd.DataFrame]]:
    """Each chart on the page: its Vega-Lite spec and the table it is drawn from."""
    out = []
    for element in at.get("vega_lite_chart"):
        proto = element.proto  # type: ignore[attr-defined]
        (dataset,) = proto.datasets
        out.append((json.loads(proto.spec), pa.ipc.open_stream(dataset.data.data).read_pandas()))
    return out


def colour_scale(spec: dict[str, Any]) -> dict[str, str]:
    scale = spec["encoding"]["color"]["scale"]
    return dict(zip(scale["domain"], scale["range"], strict=True))


def test_the_charts_count_incidents(
    store: Path, expected: list[RecordMeta], metas: dict[str, RecordMeta], monkeypatch: pytest.MonkeyPatch
) -> None:
    at = insights_page(store, monkeypatch)
    (per_month, spec_month), (grid, spec_grid), (mix, spec_mix), (ttm, _), (stale, spec_stale) = [
        (frame, spec) for spec, frame in charts(at)
    ]
    # incidents per month: each incident once, whatever services it touched
    assert per_month.groupby("month")["incidents"].sum().to_dict() == Counter(month(m) for m in expected)
    assert per_month["incidents"].sum() == len(expected) < len(metas)
    severities = Counter(m.severity or UNKNOWN_SEVERITY for m in expected)
    assert per_month.groupby("severity")["incidents"].sum().to_dict() == severities
    # severity mix: the same counts, most alarming first
    assert dict(zip(mix["severity"], mix["incidents"], strict=True)) == severities
    assert list(mix["severity"]) == [s for s in SEVERITY_COLOURS if s in severities]
    # incidents touching each service: per row, the incidents that name the service (or, for the last row,
    # any service without a row of its own), each once
    rows = [s for s in spec_grid["layer"][0]["encoding"]["y"]["sort"] if s != OTHER_SERVICES]
    assert 0 < len(rows) <= 10
    for (when, service), shown in grid.set_index(["month", "service"])["incidents"].items():
        if service == OTHER_SERVICES:
            want = sum(1 for m in expected if month(m) == when and set(m.services) - set(rows))
        else:
            want = sum(1 for m in expected if month(m) == when and service in m.services)
        assert shown == want, (when, service)
    touched = sum(1 for m in expected for s in m.services if s in rows)
    assert grid[grid["service"] != OTHER_SERVICES]["incidents"].sum() == touched
    # one point per incident with a duration, never twice for the copy
    assert ttm["incident"].is_unique and len(ttm) <= len(expected)
    # stale runbooks: every one, labels whole
    assert list(stale["label"]) == [s.runbook_id for s in stale_runbooks(open_kb(Settings(data_dir=store)))]
    assert spec_stale["encoding"]["y"]["axis"]["labelLimit"] == 0
    assert spec_grid["layer"][0]["encoding"]["y"]["axis"]["labelLimit"] == 0
    # severity is coloured from the one palette, in its order
    for spec in (spec_month, spec_mix):
        scale = colour_scale(spec)
        assert scale == {s: SEVERITY_COLOURS[s] for s in scale}
        assert list(scale) == [s for s in SEVERITY_COLOURS if s in scale]


def test_failure_modes_link_their_incidents(
    store: Path, metas: dict[str, RecordMeta], monkeypatch: pytest.MonkeyPatch
) -> None:
    at = insights_page(store, monkeypatch)
    modes = [str(m.value) for m in at.markdown if "incidents;" in str(m.value)]
    assert modes
    for text in modes:
        links = [part.split(")")[0] for part in text.split("](./document?id=")[1:]]
        assert len(links) >= 2 and all(rid in metas for rid in links), text
        assert f"{COPIED}-export" not in links  # the copy is the same incident as the sample's report
