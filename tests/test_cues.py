"""Message kinds by meaning (kb.retrieval.cues) with the real model: our own wording, not any shared set."""

from __future__ import annotations

import pytest

from kb.core.enums import MessageKind
from kb.retrieval import cues
from kb.retrieval.meaning import accuracy


def test_leading_syntax_is_taken_off_before_judging() -> None:
    assert cues.plain("14:05 - on-call restarts the pods") == "on-call restarts the pods"
    assert cues.plain("* [09:12] **Service restored.**") == "Service restored."
    assert cues.plain("| 10:31 | Rolled back | ana |").startswith("Rolled back")
    assert cues.plain("ack") == "ack"


@pytest.mark.slow
def test_kinds_of_lines_in_several_styles() -> None:
    lines = {
        "Hi all, the invoice page hangs forever for our EU customers since about ten minutes": MessageKind.report,
        "I reverted the load balancer change and redeployed the old config": MessageKind.action,
        "Maybe the new TLS settings are rejecting the older clients?": MessageKind.hypothesis,
        "All checks green, error rate back to baseline, closing this out": MessageKind.recovery,
        "Follow-up: add an alert when the certificate has less than two weeks left": MessageKind.action_item,
    }
    got = cues.kinds(list(lines))
    assert sum(g == want for g, want in zip(got, lines.values(), strict=True)) >= 4, got
    assert cues.kinds(["thanks!"]) == [None]  # chatter has no kind


@pytest.mark.slow
def test_the_cue_examples_hold_out_well_enough() -> None:
    result = accuracy("cues")
    assert result.tested >= 80 and result.ratio >= 0.6, result.ratio
    assert set(result.per_label) >= {k.value for k in MessageKind} | {cues.CHATTER}


def test_a_question_is_told_from_a_statement_by_its_mark() -> None:
    assert cues.is_question("is checkout back for everyone?")
    assert cues.is_question("so all traffic goes to the old pool now? (edited)")
    assert cues.is_question("did the restart help?;")  # a line as a summary joins it with the next
    assert not cues.is_question("checkout is back for everyone.")
    assert not cues.is_question("errors gone since 10:42")


@pytest.mark.slow
def test_a_question_about_recovery_does_not_state_it() -> None:
    asked, said = cues.read(["is the payment api healthy again?", "the payment api is healthy again, errors at zero"])
    assert not asked.states(MessageKind.recovery)
    assert said.states(MessageKind.recovery)
