"""What a chat message, timeline entry or step does in an incident (``MessageKind``), judged by meaning.

One vocabulary for every feature that reads an incident's course (summaries, catch-up, game days, runbook
drafts): the bundled embedding model against the labelled examples in ``examples/cues/``, one file per
kind, written in many teams' styles (terse chat, bot alerts, timeline bullets and tables, postmortem prose,
ticket comments). ``chatter.txt`` teaches what moves nothing (acks, thanks, jokes, coordination): such a
line, and a line no kind wins clearly, has no kind (None). Regular expressions elsewhere read syntax only
(timestamps, speakers, prompts); what a line means comes from here.

Only a line's leading syntax is taken off before it is judged: a list bullet or table bar, a clock time
(``14:05 -``, ``[09:12]``, ``09:12 UTC:``), bold marks. Classify in batches: one model call for many lines.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from kb.core.enums import MessageKind
from kb.retrieval.meaning import Verdict, classifier

TASK = "cues"
#: the label of lines that move nothing; it is never a MessageKind
CHATTER = "chatter"
#: below this fit the best kind is not called (the linear model's fit: about 1 sure, 0 a toss-up)
MIN_SCORE = -0.35
#: nor when the runner-up is this close
MIN_MARGIN = 0.08
#: characters of a message judged: its opening says what it does, pasted output after it does not
MAX_CHARS = 300
_LEADING_SYNTAX = re.compile(
    r"^(?:\s*(?:[-*+|>]|\d+[.)])\s+)?\s*(?:\[?\d{1,2}:\d{2}(?::\d{2})?(?:\s*[AaPp][Mm])?\]?(?:\s*[A-Z]{2,4})?"
    r"\s*(?:[-:|\u2013\u2014]\s*)?)?(?:\*\*)?"
)


def plain(text: str) -> str:
    """The words of a line without its leading bullet, clock time and bold marks."""
    line = text.strip()
    return _LEADING_SYNTAX.sub("", line, count=1).replace("**", "").strip()[:MAX_CHARS] or line[:MAX_CHARS]


def judge(texts: Sequence[str]) -> list[Verdict]:
    """The verdict for each text (label or None, fit, margin), in one batch of the model."""
    return classifier(TASK, MIN_SCORE, MIN_MARGIN).classify([plain(t) for t in texts])


def kind_of(verdict: Verdict) -> MessageKind | None:
    """The MessageKind of a verdict; None for chatter and for no clear call."""
    return MessageKind(verdict.label) if verdict.label and verdict.label != CHATTER else None


def kinds(texts: Sequence[str]) -> list[MessageKind | None]:
    """The kind of each text, or None when it moves nothing or no kind is close enough to call."""
    return [kind_of(v) for v in judge(texts)]
