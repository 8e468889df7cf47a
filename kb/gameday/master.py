"""The game master of a game day: answers from the scenario's evidence only; ``kb.gameday.scoring`` scores
and debriefs the session.

A turn is a question or data request, a hypothesis, an action, a request for a hint, or the end. The
game master:

- answers questions by revealing the clue that fits them best (their keywords), or says "no data for
  that"; staged clues also come out on their own after some turns;
- never reveals the root cause before the end: questions that ask for it are refused, and every answer
  is checked against the answer key (``LeakGuard``) before it is shown;
- recognises actions by their kind (roll back, terminate, restart, fail over, page, ...) and their
  target: the mitigation that really worked ends the game, an action that made things worse in the
  real incident shows what happened then, an action responders took without effect shows its outcome;
- with an LLM, the model phrases the answer from the same evidence passages (never the answer key),
  with its citations checked as in generation; a leak or an ungrounded answer falls back to the plain
  evidence.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

from kb.clients.openai_client import ChatModel
from kb.core.enums import ActionKind, Outcome, RubricKind
from kb.core.errors import KBError, LLMError
from kb.core.models import Citation, Clue, Passage, Scenario, Session, Turn
from kb.gameday.clues import asked_with
from kb.gameday.cues import (
    ASKS_FOR,
    SAME_ACTION,
    TELLING,
    action_class,
    closeness,
    names_a_subject,
    similarity,
    turn_kind,
)
from kb.gameday.incident import body_sentences
from kb.gameday.leak import LeakGuard
from kb.gameday.scoring import POINTS, TURN_LIMIT, debrief, score
from kb.generation.grounding import Evidence
from kb.generation.guard import refusal
from kb.generation.prompting import ask_for_lines

#: a player's commands (syntax, not meaning): ask for a hint, end the game
HINT = re.compile(r"^\s*/?hint\b", re.I)
END = re.compile(r"^\s*/?(?:end|quit|exit)\s*$", re.I)
NO_DATA = "No data for that in this incident."
REFUSAL = (
    "That is what you are here to find out; the root cause is revealed in the debrief. "
    "What would you check next?"
)
#: a hypothesis this close in meaning to a sentence of the root cause names the cause
NAMES_CAUSE = 0.5
#: a question this close in meaning to a clue is answered by it, whatever kind of evidence it asked for
ANSWERS = 0.4
#: a player's action this close to an action responders took without fixing it gets that outcome
SAME_OUTCOME = 0.5


class GameMaster:
    """Runs play sessions of one scenario."""

    def __init__(
        self, scenario: Scenario, llm: ChatModel | None = None, turn_limit: int = TURN_LIMIT
    ) -> None:
        # a scenario saved before the guard (or edited by hand) may hold text that must not be shown
        shown = [c for c in scenario.clues if refusal(c.text) is None]
        hints = [h for h in scenario.hints if refusal(h.text) is None]
        if len(shown) < len(scenario.clues) or len(hints) < len(scenario.hints):
            scenario = scenario.model_copy(update={"clues": shown, "hints": hints})
        self.scenario = scenario
        self.llm = llm
        self.turn_limit = turn_limit
        self.guard = LeakGuard(scenario.truth.cause_text or scenario.truth.root_cause, set(scenario.truth.cause_terms))
        self.clues = {c.key: c for c in scenario.clues}
        # the root cause's sentences, which a hypothesis is held against
        self.cause_sentences = body_sentences(scenario.truth.root_cause)[:12]

    # -- session ------------------------------------------------------------------------------

    def start(self, trainee: str, now: dt.datetime | None = None) -> Session:
        stamp = now or dt.datetime.now(dt.UTC)
        session = Session(
            id=f"{self.scenario.id}-{re.sub(r'[^A-Za-z0-9]+', '-', trainee).strip('-') or 'trainee'}-"
            f"{stamp.strftime('%Y%m%dT%H%M%S')}",
            scenario_id=self.scenario.id,
            trainee=trainee,
            started=stamp,
            services=self.scenario.services,
        )
        session.revealed = [c.key for c in self.scenario.clues if c.trigger.up_front and not c.red_herring]
        return session

    def opening(self, session: Session) -> str:
        lines = [self.scenario.briefing, "", f"PAGE: {self.scenario.initial_page}"]
        for key in session.revealed:
            lines.append(f"- {self.clues[key].text}")
        return "\n".join(lines)

    def play(self, session: Session, text: str, now: dt.datetime | None = None) -> Turn:
        """One turn: the trainee's input and the game master's answer."""
        if session.outcome is not None:
            raise KBError(f"session {session.id} is over ({session.outcome})")
        text = text.strip()
        n = len(session.turns) + 1
        stamp = now or dt.datetime.now(dt.UTC)
        turn = self._answer(session, text, n)
        turn.at = stamp
        if session.outcome is None:
            extra = self._timed_reveal(session, n)
            if extra is not None:
                turn.answer += f"\n\nNew information: {extra.text}"
                turn.citations += extra.citations
                turn.revealed.append(extra.key)
        if self.guard.leaks(turn.answer) and turn.kind != "end":
            turn.answer, turn.citations = REFUSAL, []
        session.turns.append(turn)
        session.matched += [m for m in turn.matched if m not in session.matched]
        if session.outcome is None and n >= self.turn_limit:
            session.outcome = Outcome.turn_limit
        return turn

    def _answer(self, session: Session, text: str, n: int) -> Turn:
        def turn(kind: str, answer: str, citations: Sequence[Citation] = (), **kw: list[str]) -> Turn:
            return Turn(n=n, trainee=text, kind=kind, answer=answer, citations=list(citations),
                        at=dt.datetime.now(dt.UTC), **kw)

        if not text:
            return turn("question", "Ask a question, state a hypothesis, or take an action.")
        if END.match(text):
            session.outcome = Outcome.gave_up
            return turn("end", "Game over. Here is the debrief.")
        if HINT.match(text):
            return self._hint(session, turn)
        said = turn_kind(text)
        if said == "end":
            session.outcome = Outcome.gave_up
            return turn("end", "Game over. Here is the debrief.")
        if said == "hint":
            return self._hint(session, turn)
        if said == "ask_cause":
            return turn("refused", REFUSAL)
        if said == "hypothesis":
            return self._hypothesis(session, text, turn)
        if said == "action":
            return self._act(session, text, action_class(text), turn)
        return self._question(session, text, said, turn)

    def _hint(self, session: Session, turn):  # type: ignore[no-untyped-def]
        if session.hints_used >= len(self.scenario.hints):
            return turn("hint", "No more hints.")
        hint = self.scenario.hints[session.hints_used]
        session.hints_used += 1
        return turn("hint", f"Hint ({POINTS['hint']} points): {hint.text}", hint.citations)

    def _hypothesis(self, session: Session, text: str, turn):  # type: ignore[no-untyped-def]
        """A claim about what is going on: matched to the findings and the cause by meaning."""
        diagnoses = [i for i in self.scenario.truth.rubric if i.kind == RubricKind.diagnosis]
        closeness = similarity([text], [i.text for i in diagnoses] + self.cause_sentences)[0]
        matched = [i.id for i, c in zip(diagnoses, closeness, strict=False) if c >= NAMES_CAUSE]
        if max(closeness[len(diagnoses) :], default=0.0) >= NAMES_CAUSE and "diagnosed" not in session.matched:
            matched.append("diagnosed")
        clue = self._best_clue(session, text, None)
        answer = "Noted. How would you confirm it, and what would you do?"
        cites: list[Citation] = []
        revealed: list[str] = []
        if clue is not None:
            answer += f"\n\nWhat the evidence shows: {clue.text}"
            cites, revealed = clue.citations, [clue.key]
            self._reveal(session, clue)
        return turn("hypothesis", answer, cites, matched=matched, revealed=revealed)

    def _act(self, session: Session, text: str, kind: ActionKind | None, turn):  # type: ignore[no-untyped-def]
        """An action: the fix ends the game, a harmful step shows what it did, an action responders took
        without effect shows its outcome; all recognised by meaning, whatever the wording."""
        rubric = self.scenario.truth.rubric
        fixes = [i for i in rubric if i.kind == RubricKind.mitigation]
        harms = [i for i in rubric if i.kind == RubricKind.harmful]
        outcomes = [c for c in self.scenario.clues if c.trigger.on_action]
        close = closeness(text, [*(i.text for i in fixes), *(i.text for i in harms), *(c.text for c in outcomes)],
                          [*(i.action for i in fixes), *(i.action for i in harms)])
        to_fix, to_harm = close[: len(fixes)], close[len(fixes) : len(fixes) + len(harms)]
        to_outcome = close[len(fixes) + len(harms) :]
        best_fix, best_harm = round(max(to_fix, default=0.0), 2), round(max(to_harm, default=0.0), 2)
        if best_harm >= SAME_ACTION and best_harm > best_fix:
            item = harms[to_harm.index(max(to_harm))]
            return turn("action", f"In the real incident that made things worse: {item.text}", item.citations,
                        matched=[item.id])
        if best_fix >= SAME_ACTION:
            item = fixes[to_fix.index(max(to_fix))]
            session.outcome = Outcome.mitigated
            return turn("action", "That works: it is what ended the real incident. Here is the debrief.",
                        item.citations, matched=[item.id])
        if kind in TELLING:
            comms = [i for i in rubric if i.kind == RubricKind.communication and i.action == kind
                     and i.id not in session.matched]
            if comms:
                return turn("action", f"Done. (In the real incident: {comms[0].text})", comms[0].citations,
                            matched=[comms[0].id])
            return turn("action", "Done.")
        if outcomes:
            near, k = max(zip(to_outcome, range(len(outcomes)), strict=True))
            clue = outcomes[k]
            if near >= SAME_OUTCOME or (kind is not None and clue.trigger.on_action == kind):
                self._reveal(session, clue)
                return turn("action", f"You do it. What happened: {clue.text}", clue.citations, revealed=[clue.key])
        return turn("action", "You do it. " + NO_DATA + " Nothing in the evidence says it changed anything.")

    def _question(self, session: Session, text: str, said: str, turn):  # type: ignore[no-untyped-def]
        clue = self._best_clue(session, text, ASKS_FOR.get(said))
        if clue is None:
            diagnoses = [i for i in self.scenario.truth.rubric
                         if i.kind == RubricKind.diagnosis and i.id not in session.matched]
            close = similarity([text], [i.text for i in diagnoses])[0]
            best = max(close, default=0.0)
            if best >= ANSWERS:  # the right check: show what the responders found with it
                item = diagnoses[close.index(best)]
                if not self.guard.repeats(item.text):
                    return turn("question", item.text, item.citations, matched=[item.id])
            return turn("question", NO_DATA)
        self._reveal(session, clue)
        answer, citations = clue.text, clue.citations
        if self.llm is not None:
            answer, citations = self._phrase(text, clue)
        return turn("question", answer, citations, revealed=[clue.key])

    def _best_clue(self, session: Session, text: str, asked: str | None) -> Clue | None:
        """The clue that answers a question best: the closest in meaning when one is close enough (a question
        that names what it asks about, "what does pg_stat_activity show?"), else, for a question that names no
        particular thing, one of the kind of evidence asked for ("what do the dashboards say?"); unseen clues
        first, red herrings last."""
        clues = [c for c in self.scenario.clues if not c.trigger.on_action]
        if not clues:
            return None
        # a pasted result is also known by what was run to get it ("what does pg_stat_activity show?")
        close = similarity([text], [c.text for c in clues] + [asked_with(c.text) for c in clues])[0]
        nears = list(map(max, close[: len(clues)], close[len(clues) :]))
        named = max(nears) >= ANSWERS
        if not named and asked is not None and names_a_subject(text):
            return None  # "what is the CPU usage of checkout?": a revenue graph is no answer, whatever its kind
        ranked = []
        for clue, near in zip(clues, nears, strict=True):
            fits = asked is not None and clue.category == asked
            answers = near >= ANSWERS if named else fits  # close in meaning, else of the kind asked for
            if not answers:
                continue
            score = near + (0.1 if fits else 0.0) + (0.1 if clue.key not in session.revealed else 0.0)
            ranked.append((score - (0.2 if clue.red_herring else 0.0), clue.key, clue))
        return max(ranked)[2] if ranked else None

    def _reveal(self, session: Session, clue: Clue) -> None:
        if clue.key not in session.revealed:
            session.revealed.append(clue.key)

    def _timed_reveal(self, session: Session, n: int) -> Clue | None:
        for clue in self.scenario.clues:
            due = clue.trigger.after_turns
            if due is not None and due <= n and clue.key not in session.revealed and not clue.red_herring:
                self._reveal(session, clue)
                return clue
        return None

    def _phrase(self, question: str, clue: Clue) -> tuple[str, list[Citation]]:
        """The model answers in its own words from the clue's evidence; checked, else the evidence itself."""
        assert self.llm is not None
        evidence = Evidence.numbered(
            [Passage(id="", doc_id=c.doc_id, section=c.section, start=c.start, end=c.end, text=c.quote)
             for c in clue.citations]
        )
        try:
            reply = ask_for_lines(self.llm, "gamemaster", evidence, ["answer"], question=question)
        except LLMError:
            return clue.text, clue.citations
        items, _dropped = evidence.check_generated(reply.lines, ["answer"])
        text = " ".join(i.text for i in items)
        if not items or self.guard.leaks(text):
            return clue.text, clue.citations
        return text, [c for i in items for c in i.citations]

    # -- end ------------------------------------------------------------------------------------

    def finish(self, session: Session) -> Session:
        """Score the session and write its debrief."""
        if session.outcome is None:
            session.outcome = Outcome.gave_up
        session.score = score(self.scenario, session, self.turn_limit)
        session.debrief = debrief(self.scenario, session, self.turn_limit)
        return session
