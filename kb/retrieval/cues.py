"""What a chat message, timeline entry or step does in an incident (``MessageKind``), judged by meaning.

One vocabulary for every feature that reads an incident's course (summaries, catch-up, game days, runbook
drafts): the bundled embedding model against the labelled examples in ``examples/cues/``. Regular
expressions elsewhere read syntax only (timestamps, speakers, prompts); what a line means comes from here.
"""

from __future__ import annotations

from collections.abc import Sequence

from kb.core.enums import MessageKind
from kb.retrieval.meaning import Verdict, classifier

TASK = "cues"


def judge(texts: Sequence[str]) -> list[Verdict]:
    """The verdict for each text (label, similarity, margin), in one batch of the model."""
    return classifier(TASK).classify(list(texts))


def kinds(texts: Sequence[str]) -> list[MessageKind | None]:
    """The kind of each text, or None when no kind is close enough to call."""
    return [MessageKind(v.label) if v.label else None for v in judge(texts)]
