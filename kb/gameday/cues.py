"""How a game day reads an incident's lines and a player's turns, by meaning (the bundled embedding model
against labelled examples, ``kb.retrieval.meaning``), never by their wording:

- what a timeline entry or chat message does (report, observation, action, recovery, ...): the shared
  vocabulary of ``kb.retrieval.cues``;
- the kind of evidence a line is (``evidence``: deploy, alert, customer, logs, dashboard, other);
- the kind of action a line or a player's order is (``actions``: ``ActionKind``);
- what a player's turn is (``gm_turns``: a question for a kind of evidence, a hypothesis, an action, or a
  request for the answer);
- how close two texts are in meaning (a player's proposal against the fix that really worked).

Every function takes a batch, so one model call serves many lines.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from kb.core.enums import ActionKind, MessageKind
from kb.retrieval import cues as message_cues
from kb.retrieval.meaning import classifier, similarity

#: actions that tell people (paging, declaring, a status page) rather than change a system
TELLING = (ActionKind.page, ActionKind.declare, ActionKind.communicate)
#: kinds of line a responder acts with
ACTING = (MessageKind.action, MessageKind.decision)
#: the kind of evidence each question asks for (``gm_turns`` label -> ``evidence`` label)
ASKS_FOR = {"ask_changes": "deploy", "ask_dashboard": "dashboard", "ask_logs": "logs", "ask_alerts": "alert",
            "ask_customers": "customer"}
#: a player's proposal this close in meaning (cosine of the bundled model, ``AGREE`` for the kind of action) to
#: the fix proposes the fix;
#: calibrated on kb/gameday/paraphrases.tsv (``calibrate``; scripts/eval_gamedays.py --calibrate prints it)
SAME_ACTION = 0.49
#: how much the same kind of action (``actions``) adds to closeness
AGREE = 0.1


#: a kind that decides where an incident ends (recovery) must win by this margin
CLEAR = 0.04


def line_kinds(texts: Sequence[str]) -> list[MessageKind | None]:
    """What each line does in the incident (None when no kind is close enough); a recovery only when it is
    clearly one (a line that only leans towards it would end the scenario early)."""
    return [line_kind(reading) for reading in message_cues.read(list(texts))] if texts else []


def line_kind(reading: message_cues.Reading) -> MessageKind | None:
    """What one read line does (``line_kinds``)."""
    kind = reading.kind
    return None if kind == MessageKind.recovery and not reading.clearly(kind, CLEAR) else kind


def evidence_kinds(texts: Sequence[str]) -> list[str]:
    """The kind of evidence each line is: deploy, alert, customer, logs, dashboard, or other."""
    if not texts:
        return []
    return [v.label or "other" for v in classifier("evidence").classify(list(texts))]


def action_kinds(texts: Sequence[str]) -> list[ActionKind | None]:
    """The kind of action each line describes or orders."""
    if not texts:
        return []
    return [ActionKind(v.label) if v.label else None for v in classifier("actions").classify(list(texts))]


def action_class(text: str) -> ActionKind | None:
    """The kind of action one sentence describes."""
    return action_kinds([text])[0]


def turn_kind(text: str) -> str:
    """What a player's turn is: ``ask_*`` (a question, for a kind of evidence), ``hypothesis``, ``action``."""
    verdict = classifier("gm_turns").classify_one(text)
    return verdict.label or "ask_other"


def names_a_subject(text: str) -> bool:
    """Whether a player's question asks about one named thing ("what is the memory usage of the payments pods?"),
    not for a kind of evidence in general ("what do the dashboards say?"): ``question_scope`` examples."""
    return classifier("question_scope").classify_one(text).label == "specific"


def closeness(text: str, others: Sequence[str], known: Sequence[ActionKind | None] | None = None) -> list[float]:
    """How close a player's words are to each other text: the closest of its sentences (a Resolution
    paragraph says the fix in one sentence and its effect in the next), and ``AGREE`` more for the same kind
    of action (``known``: the kind each other text is already known to be, None where it is read from it)."""
    from kb.gameday.timeline import plain

    pieces: list[str] = []
    owner: list[int] = []
    saids = [" ".join(HANDLE.sub("", plain(other.split(" -> ")[0])).split()) for other in others]
    kinds = action_kinds([text, *saids])
    for k, kind in enumerate(known or []):
        kinds[k + 1] = kind or kinds[k + 1]
    for k, said in enumerate(saids):
        for piece in pieces_of(said):
            pieces.append(piece)
            owner.append(k)
    best = [0.0] * len(others)
    for k, sim in zip(owner, similarity([text], pieces)[0] if pieces else [], strict=True):
        best[k] = max(best[k], sim)
    # the same kind of action (a rollback and a revert, a restart and a bounce) counts for it
    return [b + _agreement(kinds[0], kinds[k + 1]) for k, b in enumerate(best)]


def pieces_of(said: str) -> list[str]:
    """A text and the parts of it that can say an action on their own: its first sentences and their clauses
    ("Prow was deployed by hand, and service resumed" says the fix in its first clause), and each setting it
    assigns ("Config change deployed: `max.poll.records=50`, `max.poll.interval.ms=600000`")."""
    from kb.text.steps import Span, sentences

    parts = [s.text for s in sentences(Span(0, len(said), said))][:4] or [said]
    clauses = [c for part in parts for c in CLAUSE.split(part) if len(c.split()) >= 3 or ASSIGNS.search(c)]
    return list(dict.fromkeys([said, *parts, *clauses[:8]]))


def _agreement(one: ActionKind | None, other: ActionKind | None) -> float:
    """Only for: a kind of action is a guess, and a fix in other words often reads as another kind."""
    return AGREE if one is not None and one == other else 0.0


#: syntax only: a chat handle ("@alice"), and where a sentence splits into clauses
HANDLE = re.compile(r"(?<!\w)@[\w-]+")
CLAUSE = re.compile(r"[,;:]\s+|\s+(?:and|which|so|then|but|that|is)\s+")
#: a setting assigned a value (`key=value`, `key = value`), not a comparison
ASSIGNS = re.compile(r"[\w.\-]+\s?=\s?[\w.\-]+")
PARAPHRASES = Path(__file__).with_name("paraphrases.tsv")


def calibrate(path: Path = PARAPHRASES) -> tuple[float, float, int]:
    """The threshold on ``closeness`` that best tells a fix said in other words from a different action, on
    the labelled pairs in ``paraphrases.tsv``: (threshold, accuracy at it, pairs). Accepting a wrong action
    as the fix costs twice as much as missing a paraphrase; among equal costs the higher threshold wins."""
    rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]
    scored = [(closeness(proposed, [fix])[0], label.strip() == "same") for fix, proposed, label in rows]
    best: tuple[float, float, float] = (float("inf"), SAME_ACTION, 0.0)
    for cut in sorted({round(s, 2) for s, _same in scored}):
        missed = sum(s < cut for s, same in scored if same)
        wrong = sum(s >= cut for s, same in scored if not same)
        cost = missed + 2 * wrong
        if cost <= best[0]:
            best = (cost, cut, 1 - (missed + wrong) / len(scored))
    return best[1], best[2], len(scored)
