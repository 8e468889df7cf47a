"""Message kinds by meaning (kb.retrieval.cues) with the real model: our own wording, not any shared set."""

from __future__ import annotations

import pytest

from kb.core.enums import MessageKind
from kb.retrieval import cues
from kb.retrieval.meaning import Verdict, accuracy


def test_leading_syntax_is_taken_off_before_judging() -> None:
    assert cues.plain("14:05 - on-call restarts the pods") == "on-call restarts the pods"
    assert cues.plain("* [09:12] **Service restored.**") == "Service restored."
    assert cues.plain("| 10:31 | Rolled back | ana |").startswith("Rolled back")
    assert cues.plain("ack") == "ack"
    assert cues.plain("[2025-03-02 09:14:05] dana: rolled back the gateway") == "rolled back the gateway"
    assert cues.plain("[09:14] dana: rolled back") == "rolled back"
    assert cues.plain("09:14 Dana: rolled back") == "Dana: rolled back"  # a speaker only after a bracketed stamp


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


def _reading(kind: str | None, margin: float, parts: tuple[tuple[str, MessageKind | None], ...] = (),
             best: str | None = None, text: str = "a line") -> cues.Reading:
    """A reading made by hand: the whole verdict (its label, how far ahead, which label scored best) and the
    kinds of its sentences."""
    top = best or kind or cues.CHATTER
    verdict = Verdict(kind, 0.2, margin, {top: 0.2, "decision" if top != "decision" else "cause": 0.2 - margin})
    whole = cues.kind_of(verdict)
    return cues.Reading(verdict, whole, frozenset(k for _, k in parts if k), parts, text)


def test_a_many_sentence_message_states_a_kind_only_in_one_of_its_sentences() -> None:
    back = MessageKind.recovery
    done = _reading("action", 0.3, (("flipped the flag off;", MessageKind.action), ("errors are gone", back)))
    assert done.states(back)
    # read whole it leans to "back", but no sentence says so: a blend of a thanks and a plan
    blend = _reading("recovery", 0.5, (("read it all;", None), ("nice work;", None), ("I'll file the review", None)))
    assert not blend.states(back)
    asked = _reading("action", 0.3, (("rolled back;", MessageKind.action), ("is it back now?", back)))
    assert not asked.states(back)


def test_a_one_sentence_message_states_a_kind_only_when_the_model_is_sure() -> None:
    back = MessageKind.recovery
    assert _reading("recovery", cues.SENTENCE_MARGIN + 0.1).states(back)
    assert not _reading("recovery", 0.05).states(back)  # too close to the runner-up
    assert not _reading("recovery", 0.3, best="observation").states(back)  # a nearest example's label, not the fit
    assert not _reading("recovery", 0.5, text="all good now?").states(back)


def test_a_message_leans_to_its_best_scored_kind_even_when_too_close_to_call() -> None:
    unclear = _reading(None, 0.02, best="report")
    assert unclear.kind is None and unclear.leans(MessageKind.report)
    assert not unclear.leans(MessageKind.observation)
