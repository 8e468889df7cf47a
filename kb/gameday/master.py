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
from kb.core.models import Citation, Clue, Passage, RubricItem, Scenario, Session, Turn
from kb.gameday.cues import CATEGORIES, TELLING, action_class
from kb.gameday.leak import LeakGuard
from kb.gameday.scoring import POINTS, TURN_LIMIT, debrief, score
from kb.generation.grounding import Evidence
from kb.generation.guard import refusal
from kb.generation.prompting import ask_for_lines
from kb.text.steps import terms_of

HINT = re.compile(r"^\s*(hint|/hint|give me a hint|i'?m stuck|help me)\b", re.I)
END = re.compile(r"^\s*(end|/end|quit|exit|i give up|give up|stop the game)\b", re.I)
ASKS_ANSWER = re.compile(
    r"\b(root ?cause|what caused|what is the cause|cause of (?:this|the incident)|tell me the answer|"
    r"what (?:really )?happened|what went wrong|what was the fix|how (?:was|did) (?:it|they) (?:get )?fix|"
    r"give me the answer|spoil)",
    re.I,
)
HYPOTHESIS = re.compile(
    r"^\s*(i think|i suspect|maybe|my (?:guess|hypothesis|theory)|hypothesis|probably|it (?:could|might|must) "
    r"be|it'?s (?:probably|likely)|looks like|i bet|suspect)",
    re.I,
)
STATEMENT = re.compile(r"\b(is|are|was|were|because|caus\w*|due to|hold(?:s|ing)?|block(?:s|ing|ed)?|"
                       r"lock(?:s|ed)?|leak\w*|stuck|exhaust\w*|saturat\w*|starv\w*)\b", re.I)
IMPERATIVE = re.compile(r"^\s*(?:(?:i(?:'ll| will| would)|let'?s|we should|please|ok(?:ay)?,?)\s+)?", re.I)
NO_DATA = "No data for that in this incident."
REFUSAL = (
    "That is what you are here to find out; the root cause is revealed in the debrief. "
    "What would you check next?"
)


CATEGORY_WORDS = {name: words for name, _pattern, words in CATEGORIES}
SPECIFIC_WORDS = {"cpu", "memori", "latenc", "rate", "error", "except", "lag"}


def _matches(item: RubricItem, text: str, kind: ActionKind | None) -> bool:
    if item.action and kind != item.action:
        return False
    if not item.terms:
        return True
    return bool(terms_of(text) & set(item.terms) - {"run", "runs", "job", "the"})


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
        # words of the cause that the trainee was not already given (services, the page, the briefing)
        self.cause_terms = terms_of(scenario.truth.root_cause) - terms_of(
            " ".join([scenario.briefing, scenario.initial_page, *scenario.services])
        )

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
            if session.hints_used >= len(self.scenario.hints):
                return turn("hint", "No more hints.")
            hint = self.scenario.hints[session.hints_used]
            session.hints_used += 1
            return turn("hint", f"Hint ({POINTS['hint']} points): {hint.text}", hint.citations)
        hypothesis = bool(HYPOTHESIS.match(text)) or self._is_statement(text)
        if ASKS_ANSWER.search(text) and not hypothesis:
            return turn("refused", REFUSAL)
        if hypothesis:
            matched = [i.id for i in self.scenario.truth.rubric
                       if i.kind == RubricKind.diagnosis and self._close(i, text)]
            if len(terms_of(text) & self.cause_terms) >= 2 and "diagnosed" not in session.matched:
                matched.append("diagnosed")
            clue = self._best_clue(session, text)
            answer = "Noted. How would you confirm it, and what would you do?"
            cites: list[Citation] = []
            revealed: list[str] = []
            if clue is not None:
                answer += f"\n\nWhat the evidence shows: {clue.text}"
                cites, revealed = clue.citations, [clue.key]
                self._reveal(session, clue)
            return turn("hypothesis", answer, cites, matched=matched, revealed=revealed)
        kind = action_class(IMPERATIVE.sub("", text, count=1))
        if kind is not None and self._is_action(text):
            return self._act(session, text, kind, turn)
        return self._question(session, text, turn)

    @staticmethod
    def _is_statement(text: str) -> bool:
        """A claim about what is going on ("the migration is holding a lock on orders"), said without "I
        think": not a question, not an action, and saying something is, holds or causes something."""
        stripped = IMPERATIVE.sub("", text, count=1).strip()
        if stripped.endswith("?") or action_class(stripped) is not None:
            return False
        if re.match(r"^(what|which|who|when|where|why|how|is|are|was|were|did|does|do|can|could|show|check|look|"
                    r"any|has|have|tell|give|let|get|find|list|open|read)\b", stripped, re.I):
            return False
        return bool(STATEMENT.search(stripped))

    @staticmethod
    def _is_action(text: str) -> bool:
        stripped = IMPERATIVE.sub("", text, count=1)
        return not re.match(r"^(what|which|who|when|where|why|how|is|are|was|were|did|does|do|can|could|show|"
                            r"any|has|have)\b", stripped, re.I)

    def _close(self, item: RubricItem, text: str) -> bool:
        shared = terms_of(text) & set(item.terms)
        return len(shared) >= 2

    def _act(self, session: Session, text: str, kind: ActionKind, turn):  # type: ignore[no-untyped-def]
        rubric = self.scenario.truth.rubric
        for item in rubric:
            if item.kind == RubricKind.mitigation and _matches(item, text, kind):
                session.outcome = Outcome.mitigated
                return turn("action", "That works: it is what ended the real incident. Here is the debrief.",
                            item.citations, matched=[item.id])
        for item in rubric:
            if item.kind == RubricKind.harmful and _matches(item, text, kind):
                return turn(
                    "action",
                    f"In the real incident that made things worse: {item.text}",
                    item.citations, matched=[item.id],
                )
        comms = [i for i in rubric
                 if i.kind == RubricKind.communication and i.action == kind and i.id not in session.matched]
        if comms:
            item = max(comms, key=lambda i: len(terms_of(text) & terms_of(i.text)))
            return turn("action", f"Done. (In the real incident: {item.text})", item.citations, matched=[item.id])
        for clue in self.scenario.clues:
            if clue.trigger.on_action == kind:
                self._reveal(session, clue)
                return turn("action", f"You do it. What happened: {clue.text}", clue.citations, revealed=[clue.key])
        if kind in TELLING:
            return turn("action", "Done.")
        return turn("action", "You do it. " + NO_DATA + " Nothing in the evidence says it changed anything.")

    def _question(self, session: Session, text: str, turn):  # type: ignore[no-untyped-def]
        matched = [i.id for i in self.scenario.truth.rubric
                   if i.kind == RubricKind.diagnosis and self._close(i, text) and i.id not in session.matched]
        clue = self._best_clue(session, text)
        if clue is None and matched:  # the right check: show what the responders found with it
            item = next(i for i in self.scenario.truth.rubric if i.id == matched[0])
            if not self.guard.repeats(item.text):
                return turn("question", item.text, item.citations, matched=matched)
        if clue is None:
            return turn("question", NO_DATA, matched=matched)
        self._reveal(session, clue)
        answer, citations = clue.text, clue.citations
        if self.llm is not None:
            answer, citations = self._phrase(text, clue)
        return turn("question", answer, citations, matched=matched, revealed=[clue.key])

    def _best_clue(self, session: Session, text: str) -> Clue | None:
        words = terms_of(text)
        best, best_score = None, 0.0
        for clue in self.scenario.clues:
            if clue.trigger.on_action:
                continue
            # a clue's category words stand for the kind of evidence ("dashboard", "logs"); a specific
            # metric ("cpu", "latency") only answers a question when the clue itself shows it
            shows = terms_of(clue.text)
            if words & SPECIFIC_WORDS and not words & SPECIFIC_WORDS & shows:
                continue  # asked for a metric this clue does not show
            keys = {w for w in clue.trigger.keywords if w not in SPECIFIC_WORDS or w in shows}
            kind_words = {w for w in keys if w in CATEGORY_WORDS.get(clue.category, ())}
            shared = words & keys
            score = len(shared) + len(words & kind_words) + (0.5 if clue.key not in session.revealed else 0.0)
            score -= 0.75 if clue.red_herring else 0.0
            if shared and score > best_score:
                best, best_score = clue, score
        return best

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
