"""How `kb ask` reads a question and the documents: what kind of fact a question asks for (by meaning, against
labelled example questions), the part of a question that asks, names the corpus never uses, named months,
and the fields and whole list items an answer quotes."""

from __future__ import annotations

import pytest

from kb.generation.candidates import field_section, units
from kb.generation.question import (
    COMMAND,
    DURATION,
    FACT_FORMS,
    WHEN,
    asked_kinds,
    named_months,
    question_frame,
    unknown_names,
)
from kb.text.steps import Span, split_steps


class WordCorpus:
    """Only what question reading asks of a corpus: the share of passages that use a word."""

    def __init__(self, text: str) -> None:
        from kb.text.steps import terms_of

        self.words = terms_of(text)

    def passage_share(self, term: str) -> float:
        return 0.1 if term in self.words else 0.0


CORPUS = WordCorpus("the database failover took two hours; we restarted the primary and the replica; "
                    "what was the root cause of the outage and how long did it take to repair")


def test_the_part_that_asks_is_the_last_sentence_without_words_nothing_uses() -> None:
    question = "Our zorblax replicas kept flapping overnight. How long did it take to repair the failover?"
    assert question_frame(CORPUS, question) == "How long did it take to repair the failover?"  # type: ignore[arg-type]
    assert question_frame(CORPUS, "what was the zorblax?") == "what was the"  # type: ignore[arg-type]


def test_a_name_no_passage_uses_is_reported_but_common_words_and_months_are_not() -> None:
    question = "How do we fail the database over to Zorblax in January, quickly?"
    assert unknown_names(CORPUS, question) == ["Zorblax"]  # type: ignore[arg-type]
    assert unknown_names(CORPUS, "Zorblax is down: how do we restart the replica?") == ["Zorblax"]  # type: ignore[arg-type]
    assert unknown_names(CORPUS, "how do we restart the replica after a quickly done upgrade?") == []  # type: ignore[arg-type]


def test_named_months_read_month_and_year() -> None:
    assert named_months("What broke in January 2024 and on 3 March 2025?") == {(2024, 1), (2025, 3)}
    assert named_months("what broke in may?") == set()
    assert named_months("the 2024 outage") == set()


def test_the_fact_forms_are_syntax() -> None:
    assert DURATION.search("**Time to repair**: 5h 8m") and DURATION.search("it took 40 minutes")
    assert not DURATION.search("version 1.14 of kops")
    assert WHEN.search("Incident declared: 2023-01-05 08:56") and WHEN.search("repaired on 4th January 2023")
    assert COMMAND.search("run `kubectl get pods`") and not COMMAND.search("run the usual checks")
    assert set(FACT_FORMS) == {"duration", "time", "threshold", "howto"}


def test_fields_name_their_section_and_list_items_stay_whole() -> None:
    assert field_section("- **Resolution**: rolled back to 1.2.3") == "resolution"
    assert field_section("**Impact**: users could not log in") == "impact"
    assert field_section("**Document status**: draft") is None
    assert field_section("We rolled back.") is None
    text = ("- **Key events**\n  - First detected 2023-01-04 10:00\n  - Repaired 2023-01-05 09:00\n\n"
            "The first sentence. The second sentence holds the fact.\n")
    steps = split_steps(text)
    assert [u.text for u in units(steps[0])] == [steps[0].text]  # the field with its sub-items, whole
    assert len(units(steps[1])) == 2  # prose: sentence by sentence
    assert len(units(Span(0, 900, "- " + "word " * 180))) == 1  # a long item is read as its sentences


@pytest.mark.slow
def test_what_a_question_asks_is_read_by_meaning(real_embedding) -> None:  # type: ignore[no-untyped-def]
    questions = {
        "how long were payments down during the card processor incident?": "duration",
        "when was the disk alert first raised?": "time",
        "what was the root cause of the replica lag?": "cause",
        "how did we fix the broken deploy pipeline?": "resolution",
        "which customers were affected by the search outage?": "impact",
        "how do I drain a node before patching it?": "howto",
        "who owns the message queue?": "who",
    }
    kinds = asked_kinds(CORPUS, list(questions))  # type: ignore[arg-type]
    assert [k.kind for k in kinds] == list(questions.values())
    assert kinds[0].fact is DURATION and kinds[5].fact is COMMAND and kinds[2].sections[0] == "root_cause"


def test_a_lead_in_and_its_code_block_are_one_instruction() -> None:
    from kb.generation.candidates import blocks

    text = "Open the resource.\n\nUnder `spec` add:\n\n```\nadminApi: true\n```\n\nIt restarts the pod.\n"
    found = [b.text for b in blocks(text)]
    assert found == ["Open the resource.", "Under `spec` add:\n\n```\nadminApi: true\n```", "It restarts the pod."]
    assert unknown_names(CORPUS, "How long did the Failovers take?") == []  # type: ignore[arg-type]  # a plural
    assert unknown_names(WordCorpus("the sev1 process"), "who runs SEV1s?") == []  # type: ignore[arg-type]


def test_a_long_item_holding_code_is_read_by_its_sub_items_never_inside_a_code_block() -> None:
    error = "x509: certificate is valid for gw-admission, not gw-webhook " * 8
    item = ("- **Noticed**: an engineer saw the deploy fail with:\n```err " + error + "```\n"
            "- **Impact**: " + "no service could change its routes; " * 6 + "\n"
            "- **Resolution**: pinned the gateway chart back to 2.4.1\n")
    pieces = [u.text for u in units(Span(0, len(item), item))]
    assert len(item) > 700 and "- **Resolution**: pinned the gateway chart back to 2.4.1" in pieces
    fenced = ("- **Fix**: applied this patch:\n```yaml\nspec:\n  rules:\n  - host: a.example\n  - host: b.example\n"
              "```\n" + "  - then watched the rollout for errors " * 20)
    pieces = [u.text for u in units(Span(0, len(fenced), fenced))]
    assert any("- host: a.example\n  - host: b.example" in p for p in pieces)  # the YAML list stays in its block
    assert not any(p.startswith("- host") for p in pieces)


def test_a_field_holding_only_a_duration_or_a_date_is_a_figure() -> None:
    from kb.generation.candidates import figure_field

    assert figure_field("- **Time to repair**: 2h 14m") and figure_field("**Resolved**: 2024-02-01 09:12")
    assert not figure_field("- **Resolution**: rolled back to 1.2.3")
    assert not figure_field("- **Key events**\n  - First detected 2023-01-04 10:00")
    assert not figure_field("It took 2h 14m to repair.")


def test_a_line_naming_another_thing_is_no_repeat_but_a_line_saying_the_same_again_is() -> None:
    from kb.core.models import Kind, Passage
    from kb.generation.candidates import Candidate, choose

    def candidate(n: int, text: str) -> tuple[float, Candidate]:
        passage = Passage(id="", doc_id="upgrade", title="Upgrade", kind=Kind.runbook, section="mitigation",
                          start=100 * n, end=100 * n + len(text), text=text)
        return 1.0 - n / 10, Candidate(passage, "mitigation", 0)

    scored = [candidate(0, "Scale the gateway deployment: `kubectl scale deployment gateway --replicas=4 -n edge`"),
              candidate(1, "`kubectl scale deployment gateway --replicas=4 -n edge`"),
              candidate(2, "`kubectl scale deployment autoscaler --replicas=0 -n edge`")]
    share = {"autoscal": 0.004}.get
    chosen = [i.text for i in choose("upgrade", scored, 4, lambda w: share(w, 0.05))]
    assert len(chosen) == 2 and "autoscaler" in chosen[1]
    assert len(choose("upgrade", scored, 4)) == 1  # without word shares every overlapping line is a repeat


@pytest.mark.slow
def test_which_questions_ask_for_what_their_verb_says_not_for_an_owner(real_embedding) -> None:  # type: ignore[no-untyped-def]
    questions = {
        "which groups of staff were affected when the wifi certificate expired?": "impact",
        "which two rules in the new WAF ruleset rejected good requests?": "cause",
        "before patching the nodes, which deployments should be scaled up or down?": "howto",
        "which team owns the VPN gateway?": "who",
    }
    assert [k.kind for k in asked_kinds(CORPUS, list(questions))] == list(questions.values())  # type: ignore[arg-type]
