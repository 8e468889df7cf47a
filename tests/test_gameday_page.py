"""Which timeline entry is the page a game day opens with (``first_page_index``): the first alert or report, not
a change shipped, not an entry told with hindsight, and an alert that reads as a report though one of its
sentences says what a responder did."""

from __future__ import annotations

from kb.core.enums import MessageKind
from kb.gameday.timeline import first_page_index
from kb.text.steps import Span

A, R, OBS = MessageKind.action, MessageKind.report, MessageKind.observation
TIMES = ["02:00", "02:07", "02:38", "02:55", "03:12", "03:30"]


def timeline(n: int) -> list[tuple[Span, str | None]]:
    return [(Span(k, k + 1, "x"), TIMES[k]) for k in range(n)]


def test_an_alert_read_whole_as_a_report_is_the_page_though_a_sentence_is_an_ack() -> None:
    # 02:00 job starts (deploy), 02:07 update starts (deploy), 02:38 "X pages Aisha. Acked 02:44." (alert whose
    # sentence "Acked" made it an action), ..., 03:30 "Y fires (expected)" (alert, no clear kind)
    kinds = [A, A, A, OBS, MessageKind.recovery, None]
    evidence = ["deploy", "deploy", "alert", "deploy", "other", "alert"]
    assert first_page_index(timeline(6), kinds, evidence) == 5  # without the whole reading: the late alert
    leans = [False, False, True, False, False, False]
    assert first_page_index(timeline(6), kinds, evidence, reads_as_report=leans) == 2


def test_only_an_alert_or_a_customer_counts_by_its_whole_reading() -> None:
    kinds = [A, A, None]
    evidence = ["other", "logs", "alert"]
    assert first_page_index(timeline(3), kinds, evidence, reads_as_report=[True, True, False]) == 2


def test_a_report_told_with_hindsight_is_not_the_page() -> None:
    kinds = [R, R]
    assert first_page_index(timeline(2), kinds, ["alert", "alert"], hindsight=[True, False]) == 1
