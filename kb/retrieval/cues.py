"""What a chat message, timeline entry or step does in an incident (``MessageKind``), judged by meaning.

One vocabulary for every feature that reads an incident's course (summaries, catch-up, game days, runbook
drafts): the bundled embedding model against the labelled examples in ``examples/cues/``, one file per
kind, written in many teams' styles (terse chat, bot alerts, timeline bullets and tables, postmortem prose,
ticket comments). ``chatter.txt`` teaches what moves nothing (acks, thanks, jokes, coordination): such a
line, and a line no kind wins clearly, has no kind (None). Regular expressions elsewhere read syntax only
(timestamps, speakers, prompts); what a line means comes from here.

Only a line's leading syntax is taken off before it is judged: a list bullet or table bar, a clock time
(``14:05 -``, ``[09:12]``, ``09:12 UTC:``) or a chat log's stamp and speaker (``[2024-09-05 13:49:22] tomas:``),
bold marks. Classify in batches: one model call for many lines.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from kb.core.enums import MessageKind
from kb.retrieval.meaning import Verdict, classifier

TASK = "cues"
#: the label of lines that move nothing; it is never a MessageKind
CHATTER = "chatter"
#: below this fit the best kind is not called (the linear model's fit: about 1 sure, 0 a toss-up); -0.4 to -0.5
#: call 3 more lines of the cue check set right than -0.35 and none more wrongly
MIN_SCORE = -0.4
#: nor when the runner-up is this close
MIN_MARGIN = 0.08
#: characters of a message judged: its opening says what it does, pasted output after it does not
MAX_CHARS = 300
_LEADING_SYNTAX = re.compile(
    r"^(?:\s*(?:[-*+|>]|\d+[.)])\s+)?\s*(?:\[?(?:\d{4}-\d\d-\d\d[ T])?\d{1,2}:\d{2}(?::\d{2})?(?:\s*[AaPp][Mm])?\]?"
    r"(?:(?<=\])\s*[\w.@-]+:(?=\s))?(?:\s*[A-Z]{2,4})?\s*(?:[-:|\u2013\u2014]\s*)?)?(?:\*\*)?"
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


#: a sentence ends at ". ", "! ", "? " or "; " (syntax: what each sentence says is judged by meaning)
SENTENCE_END = re.compile(r"(?<=[.!?;])\s+")
#: how far ahead of the next kind a sentence's kind must be to count beside its message's kind
SENTENCE_MARGIN = 0.2


@dataclass(frozen=True)
class Reading:
    """What a message says as a whole, and what its sentences say when it has several ("checkout errors 47%.
    that made it worse, revert" reports a figure and says a step made things worse)."""

    verdict: Verdict  #: the whole message's verdict
    #: the whole message's kind; when none of its sentences that read clearly has it, the first of those
    #: sentences' kind ("reverted to 120 and reloaded. inventory connecting again" blends, whole, into a cause)
    kind: MessageKind | None
    sentences: frozenset[MessageKind]  #: kinds its sentences clearly have (empty for a one-sentence message)
    #: each judged sentence with the kind it clearly has (None when unclear), in order
    parts: tuple[tuple[str, MessageKind | None], ...] = ()
    text: str = ""  #: the judged words of the message

    def says(self, kind: MessageKind) -> bool:
        return self.kind == kind or kind in self.sentences

    def clearly(self, kind: MessageKind, margin: float) -> bool:
        """Whether it says this whole, ``margin`` ahead of the next kind, or in one of its sentences."""
        return (self.kind == kind and self.verdict.margin >= margin) or kind in self.sentences

    @property
    def best(self) -> str | None:
        """The label the whole message scores best on, however faintly (``chatter`` included)."""
        return max(self.verdict.scores, key=self.verdict.scores.__getitem__, default=None)

    @property
    def asks(self) -> bool:
        """Whether it opens with a question: its first sentence asks ("can we raise the pool? that's what got us
        out last time" proposes a step)."""
        return is_question(self.parts[0][0] if self.parts else self.text)

    def leans(self, kind: MessageKind) -> bool:
        """Whether the whole message reads most as this kind, called or not: the best-scored label, above
        ``MIN_SCORE`` even when the runner-up is too close to call (a long pasted error asked about)."""
        return self.best == kind.value and self.verdict.scores[kind.value] >= MIN_SCORE

    def states(self, kind: MessageKind) -> bool:
        """Whether the message says this as a statement, whole or in one of its sentences (a quoted chat
        joins a speaker's lines into one message: "rolled back; ok that worked"): a message that opens with
        a question ("is it back?", "so everything runs there now?") asks, and so does a sentence that does.
        A message of several sentences states it in one of them (read whole, its sentences blend: "read back
        through. good recovery. I'll review the old items" states nothing is back); a one-sentence message
        counts when the model is sure of it, as of a sentence: one it can only guess at ("prowjob pods")
        states nothing."""
        if self.parts:
            return any(k == kind and not is_question(p) for p, k in self.parts)
        return sure_kind(self.verdict) == kind and not is_question(self.text)


def is_question(text: str) -> bool:
    """A sentence that asks (syntax: it ends with a question mark, perhaps before a chat's edit mark)."""
    return text.strip().rstrip(";").removesuffix("(edited)").rstrip(" );").endswith("?")


def sure_kind(verdict: Verdict) -> MessageKind | None:
    """A sentence's kind when the model is sure of it: its best-scored label, well ahead of the next."""
    best = max(verdict.scores, key=verdict.scores.__getitem__, default=None)
    return kind_of(verdict) if verdict.label == best and verdict.margin >= SENTENCE_MARGIN else None


def read(texts: Sequence[str]) -> list[Reading]:
    """Each text judged whole, and each sentence of more than one word of a many-sentence text, in one batch."""
    parts = [SENTENCE_END.split(plain(t)) for t in texts]
    parts = [[p for p in ps if len(p.split()) >= 2] if len(ps) > 1 else [] for ps in parts]
    verdicts = iter(judge([*texts, *(p for ps in parts for p in ps)]))
    wholes = [next(verdicts) for _ in texts]
    out = []
    for text, whole, ps in zip(texts, wholes, parts, strict=True):
        each = tuple((p, sure_kind(next(verdicts))) for p in ps)
        said = [k for _, k in each if k]
        kind = kind_of(whole)
        if said and kind not in said:
            kind = said[0]  # read whole, its sentences blend into a kind none of them has: the first one says
        out.append(Reading(whole, kind, frozenset(said), each, plain(text)))
    return out
