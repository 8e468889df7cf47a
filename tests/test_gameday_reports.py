"""Game days from incident reports written as a list of bold-labelled fields ("**Context**:", "**Resolution**:"):
a field that lists timed entries is the timeline, a figure is never the fix, a report that cannot make a fair
scenario is refused for what it lacks, and the wheel passes over such reports."""

from __future__ import annotations

import json
import random

import pytest

from kb.core.errors import KBError
from kb.core.settings import Settings
from kb.gameday.incident import _resolution, read_incident
from kb.gameday.scenario import build_scenario, spin
from kb.gameday.timeline import timeline_of
from kb.knowledge import KnowledgeBase
from tests.conftest import fake_ingested

REPORT = """---
title: Incident on 2025-05-02 - Mailer queue stalled
---
# Incident on 2025-05-02 - Mailer queue stalled

- **Key events**
  - First detected: 2025-05-02 09:12
  - Repaired: 2025-05-02 10:05

- **Time to repair**: 0h 53m

- **Impact**: Jobs waited in the queue for 53 minutes; emails to customers were delayed.

- **Context**:
  - 2025-05-02 09:12: Alert QueueDepthHigh fired for the mailer queue.
  - 2025-05-02 09:20: On-call saw the worker pods running but consuming nothing.
  - 2025-05-02 09:41: Restarted the worker deployment; the depth kept growing.
  - 2025-05-02 09:55: Rolled the broker client library back to 4.2 on the worker image.
  - 2025-05-02 10:05: Queue depth back to normal, emails flowing again.

- **Resolution**: The broker client library was rolled back to 4.2 on the worker image.
"""
#: the fix in other words, and a step written like the Resolution but taken after things were back
PINNED = "Pinned the previous broker client on the workers and redeployed them."
LATER = "  - 2025-07-01 14:30: Rolled the broker client library back to 4.2 on the base image too."
CAUSE = ("- **Root cause**: Version 4.3 of the broker client library stopped acknowledging prefetched messages "
         "after a reconnect, so every worker waited forever on messages it already held.\n")


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    folder = tmp_path_factory.mktemp("reports")
    docs = folder / "postmortems"
    docs.mkdir()
    (docs / "2025-05-02-mailer-queue-stalled.md").write_text(REPORT)
    (docs / "2025-06-10-mailer-queue-stalled-again.md").write_text(
        REPORT.replace("2025-05-02", "2025-06-10").replace("- **Resolution**", CAUSE + "\n- **Resolution**"))
    (docs / "2025-07-01-mailer-queue-stalled-third.md").write_text(
        REPORT.replace("2025-05-02", "2025-07-01").replace("- **Resolution**", CAUSE + "\n- **Resolution**")
        .replace("emails flowing again.\n", f"emails flowing again.\n{LATER}\n")
        .replace("Rolled the broker client library back to 4.2 on the worker image.", PINNED))
    settings = Settings(data_dir=folder / "kb", _env_file=None)  # type: ignore[call-arg]
    return fake_ingested(settings, docs)


def test_the_timed_field_is_the_timeline_and_a_figure_is_not_the_fix(reports: KnowledgeBase) -> None:
    record = reports.record("2025-05-02-mailer-queue-stalled")
    timeline = timeline_of(record)
    assert [when for _span, when in timeline if when] == [f"2025-05-02 {t}" for t in ("09:12", "09:20", "09:41", "09:55",
                                                                              "10:05")]
    assert not any("First detected" in span.text for span, _when in timeline)  # times after labels: not entries
    said = " ".join(_resolution(record))
    assert "rolled back to 4.2" in said and "Time to repair" not in said and "0h 53m" not in said


def test_a_report_without_a_stated_cause_is_refused_for_that_alone(reports: KnowledgeBase) -> None:
    with pytest.raises(KBError) as refused:
        read_incident(reports, "2025-05-02-mailer-queue-stalled")
    assert "root cause" in str(refused.value) and "timeline" not in str(refused.value)


def test_a_report_with_its_cause_makes_a_scenario_that_names_nothing(reports: KnowledgeBase) -> None:
    scenario = build_scenario(reports, "2025-06-10-mailer-queue-stalled-again", "medium")
    assert "QueueDepthHigh" in scenario.initial_page
    assert "rolled back" in scenario.truth.mitigation.lower() or "4.2" in scenario.truth.mitigation
    shown = json.dumps(scenario.public())
    assert "mailer-queue-stalled" not in shown and "source_id" not in scenario.public()
    assert "Queue depth back to normal" not in shown  # the recovery waits for the debrief


def test_a_step_taken_after_things_were_back_is_not_the_fix(reports: KnowledgeBase) -> None:
    incident = read_incident(reports, "2025-07-01-mailer-queue-stalled-third")
    texts = [incident.text(n) for n in range(len(incident.timeline))]
    back = next(n for n, t in enumerate(texts) if "back to normal" in t)
    assert incident.recovery == back
    assert [texts[n] for n in incident.fixes] == [next(t for t in texts if PINNED in t)]


def test_the_wheel_passes_over_reports_that_cannot_make_a_scenario(reports: KnowledgeBase) -> None:
    pool = ["2025-05-02-mailer-queue-stalled", "2025-06-10-mailer-queue-stalled-again"]
    for seed in range(4):  # whichever comes up first
        assert spin(reports, pool, "medium", random.Random(seed)).source_id == pool[1]
    with pytest.raises(KBError) as none:
        spin(reports, pool[:1], "medium", random.Random(0))
    assert "none of the 1 postmortems" in str(none.value) and "root cause" in str(none.value)


def test_time_to_recover_counts_the_days_between_dated_entries() -> None:
    from kb.gameday.timeline import time_to_mitigate
    from kb.text.steps import Span

    def took(start: str, end: str) -> str | None:
        entry = Span(0, 1, "-")
        return time_to_mitigate([(entry, start), (entry, end)], 0, 1)

    assert took("2023-08-04 09:14", "2023-08-05 18:28") == "33h 14m"
    assert took("2023-01-11 14:22", "2023-01-11 15:50") == "1h 28m"
    assert took("23:50", "00:20") == "30m"  # undated: past midnight
    assert took("2023-01-11 14:22", "2022-01-11 15:50") is None  # a date typed wrong: no figure rather than a wrong one
