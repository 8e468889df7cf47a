"""`kb ingest` is not silent without a terminal: with stderr piped (a log, CI, scripts/run under another
program) it writes progress lines with counts, rate and time left instead of bars."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT
from ui.cli.progress import LineProgress, duration


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_lines_at_the_start_every_few_seconds_and_at_the_end() -> None:
    out, clock = io.StringIO(), Clock()
    progress = LineProgress(out, every=5.0, clock=clock)
    progress("scan", 1, 41)
    for done in range(2, 42):  # a file every half second: 20 s in all
        clock.now += 0.5
        progress("scan", done, 41)
    progress("embed", 0, 300)
    clock.now += 2
    progress("embed", 100, 300)  # under 5 s since the stage began: no line
    clock.now += 4
    progress("embed", 200, 300)
    clock.now += 3
    progress("embed", 300, 300)
    progress("index", 0, 1)
    progress("index", 1, 1)
    lines = out.getvalue().splitlines()
    assert lines[0] == "reading: 1/41 files ..."
    assert lines[1] == "reading: 11/41 files (2.0 files/s, about 15 s left)"
    assert lines[2:4] == ["reading: 21/41 files (2.0 files/s, about 10 s left)",
                          "reading: 31/41 files (2.0 files/s, about 5 s left)"]
    assert lines[4] == "reading: 41 files done in 20 s"
    assert lines[5] == "embedding and storing: 0/300 chunks ..."
    assert lines[6] == "embedding and storing: 200/300 chunks (33.3 chunks/s, about 3 s left)"
    assert lines[7] == "embedding and storing: 300 chunks done in 9 s"
    assert lines[8:] == ["keyword index ...", "keyword index: done in 0 s"]


def test_a_stage_with_nothing_to_do_says_so_once() -> None:
    out = io.StringIO()
    progress = LineProgress(out, clock=Clock())
    progress("embed", 0, 0)
    progress("embed", 0, 0)
    assert out.getvalue().splitlines() == ["embedding and storing: 0 chunks done in 0 s"]


def test_one_file_is_one_file() -> None:
    out = io.StringIO()
    LineProgress(out, clock=Clock())("scan", 1, 1)
    assert out.getvalue().splitlines() == ["reading: 1 file done in 0 s"]


def test_durations_read_as_minutes_and_seconds() -> None:
    assert [duration(s) for s in (0.4, 45, 60, 185.2)] == ["0 s", "45 s", "1 min 00 s", "3 min 05 s"]


def test_kb_ingest_with_stderr_piped_prints_progress_lines(tmp_path: Path) -> None:
    docs = tmp_path / "docs" / "runbooks"
    docs.mkdir(parents=True)
    for n, service in enumerate(["checkout", "orders", "payments"]):
        (docs / f"{service}-restart.md").write_text(
            f"---\nkind: runbook\nservices: [{service}]\n---\n# Restart {service}\n\n## Mitigation\n\n"
            f"1. Restart the {service} deployment.\n2. Watch the {service} error rate for {n + 5} minutes.\n",
            encoding="utf-8",
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_") or k == "KB_CACHE_DIR"}
    env["KB_DATA_DIR"] = str(tmp_path / "store")
    done = subprocess.run(
        [sys.executable, "-m", "ui.cli.main", "ingest", str(tmp_path / "docs")],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )
    assert done.returncode == 0, done.stderr
    embedded = re.search(r"(\d+) chunks embedded", done.stdout)
    assert embedded and int(embedded.group(1)) > 0, done.stdout
    lines = done.stderr.splitlines()
    assert "reading: 1/3 files ..." in lines, done.stderr
    assert any(re.fullmatch(r"reading: 3 files done in \d+ s", line) for line in lines), done.stderr
    chunks = embedded.group(1)
    assert f"embedding and storing: 0/{chunks} chunks ..." in lines, done.stderr
    assert any(re.fullmatch(rf"embedding and storing: {chunks} chunks done in \d+ s", line) for line in lines)
    assert "\r" not in done.stderr  # no bar redrawn in place: a log keeps every line
