"""Sections named by what their heading and opening say (kb.retrieval.sectioning), and bold-label fields."""

from __future__ import annotations

import pytest

from ingest.sources.markdown import bold_labels, sections_of
from kb.core.enums import SectionName
from kb.retrieval import sectioning


def test_headings_lose_markup_numbering_and_time_zone_notes() -> None:
    assert sectioning.clean_heading("## 3. Common causes and remedies:") == "Common causes and remedies"
    assert sectioning.clean_heading("**Timeline:**") == "Timeline"
    assert sectioning.clean_heading("2.1) [Escalation](https://example.org/escalate)") == "Escalation"


def test_the_opening_is_read_without_links_or_code_blocks() -> None:
    text = "See [the dashboard](https://grafana.example/d/1).\n```\nrm -rf /tmp/x\n```\nThen restart."
    assert sectioning.opening(text) == "See the dashboard. Then restart."


def test_bold_labels_opening_a_line_become_sections_with_their_label_as_heading() -> None:
    body = (
        "## Incident 42\n\nSome prose with **bold words** inside.\n\n**Resolution**: we restarted the pods.\n"
        "- **Time to repair**: 2h\n**Root cause:** a bad config\n```\n**Not a label**: in code\n```\n"
    )
    assert [label for _level, label, _line in bold_labels(body)] == ["Resolution", "Time to repair", "Root cause"]
    _title, sections = sections_of(body)
    by_heading = {s.heading: s for s in sections}
    assert by_heading["Resolution"].name == SectionName.resolution
    assert body[by_heading["Resolution"].start :].startswith("**Resolution**")
    assert by_heading["Root cause"].name == SectionName.root_cause


def test_without_the_model_only_example_headings_are_named() -> None:
    names = sectioning.name_sections(
        [("Resolution", ""), ("What we tried first when the queue backed up", "We scaled the consumers.")],
        use_model=False,
    )
    assert names == [SectionName.resolution, SectionName.other]


@pytest.mark.slow
def test_headings_in_other_words_are_named_by_meaning() -> None:
    # our own wording, none of it an example line
    names = sectioning.name_sections(
        [
            ("How the on-call noticed", "The pager went off at 02:10 for the checkout error budget."),
            ("Why did the queue back up?", "A consumer deploy shipped with a lower concurrency setting."),
            ("Getting things working again", "Restart the consumers one by one and watch the lag."),
            ("People to call", "If this runbook does not help, page the messaging team lead."),
            ("Making sure it is fixed", "The lag graph should be flat under 100 messages for ten minutes."),
        ]
    )
    assert names == [
        SectionName.detection,
        SectionName.root_cause,
        SectionName.mitigation,
        SectionName.escalation,
        SectionName.verification,
    ]


@pytest.mark.slow
def test_a_subheading_that_names_nothing_keeps_its_parent_section() -> None:
    body = "## Troubleshoot\n\nLook at the logs.\n\n### Prerequisites\n\nYou need kubectl.\n"
    _title, sections = sections_of(body)
    assert [s.name for s in sections] == [SectionName.diagnosis, SectionName.diagnosis]
