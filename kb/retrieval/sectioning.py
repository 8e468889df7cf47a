"""Section types by meaning: what a section of a runbook or postmortem is for (``SectionName``), judged from its
heading and the opening of its body, whatever words a team uses ("Troubleshoot", "Possible checks",
"3. Common causes and remedies", "What we did", "**Resolution**:").

The bundled embedding model reads "heading: opening sentence" and compares it with the labelled examples in
``examples/sections/`` (one file per section type, ``other`` for headings that are none of them). The heading
weighs more than the body (``HEADING_WEIGHT``): a "Root cause" section opens with a sentence about what
happened, and that sentence alone would read as a summary.

Without the model (its package not installed) a heading gets a name only when it is, word for word, one of
the example headings: deterministic and cheap. A document's sections are named in one model batch, and each
distinct heading and opening is judged once per process.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any, cast

from kb.core.enums import SectionName
from kb.core.errors import KBError
from kb.retrieval.meaning import Classifier, bundled_model, load_examples
from kb.text.fences import Fences, Role
from kb.text.steps import LINK

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding

TASK = "sections"
#: how much more the heading's vector counts than the vector of heading and opening together
HEADING_WEIGHT = 2.0
#: below this similarity to its nearest examples a heading is not called anything (``other``)
MIN_SCORE = 0.3
#: characters of a section's body read with its heading (the model reads about 256 word pieces)
OPENING_CHARS = 240
#: a subheading keeps its parent's type when that type scores within this of its best one
INHERIT_MARGIN = 0.05
#: characters of a heading read (a heading is a line; a longer one is a paragraph someone underlined)
MAX_HEADING_CHARS = 200
#: names already given in this process (bounded: cleared when full)
_NAMED: dict[str, tuple[SectionName, dict[str, float]]] = {}
#: at most this many distinct headings of one document go to the model; the rest keep their exact names
#: (real runbooks have tens of headings; a file of thousands of "## Step N" must not cost minutes)
MAX_JUDGED = 200
_MAX_NAMED = 8192

# syntax only: markup around a heading and its numbering ("3.", "2.1)", "IV.")
_MARKUP = str.maketrans("*_`#>|", "      ")
_NUMBERING = re.compile(r"^(?:\d+(?:\.\d+)*[.)]?|[ivx]+[.)])\s+", re.I)


def _words(text: str) -> str:
    return " ".join(text.translate(_MARKUP).split())


def clean_heading(heading: str) -> str:
    """A heading without markup, link syntax, numbering or a trailing colon: '## 3. Resolution:' ->
    'Resolution'."""
    text = _words(LINK.sub(r"\1", heading[:MAX_HEADING_CHARS])).rstrip(":").strip()
    return _NUMBERING.sub("", text)


def opening(body: str) -> str:
    """The first words of a section's body, as the model should read them: link text instead of links, no
    fenced code, one line."""
    kept: list[str] = []
    fences = Fences()
    for line in body[: OPENING_CHARS * 4].split("\n"):
        if fences.role(line) is Role.TEXT:
            kept.append(line)
    return _words(LINK.sub(r"\1", " ".join(kept)))[:OPENING_CHARS]


def section_text(heading: str, body: str = "") -> str:
    """What the classifier reads for one section: "heading: opening"."""
    head, first = clean_heading(heading), opening(body)
    return f"{head}: {first}" if first else head


def _key(text: str) -> str:
    return text.casefold()


@lru_cache(maxsize=1)
def exact_names() -> dict[str, SectionName]:
    """Example headings -> their section type, for the path without the model (a heading word for word)."""
    names: dict[str, set[str]] = {}
    for label, lines in load_examples(TASK).items():
        for line in lines:
            names.setdefault(_key(clean_heading(line.split(": ", 1)[0])), set()).add(label)
    return {head: SectionName(next(iter(labels))) for head, labels in names.items() if len(labels) == 1}


class HeadingWeighted:
    """The bundled model seen through a section's heading: the vector of "heading: opening" plus
    ``HEADING_WEIGHT`` times the heading's own vector, normalised. One batch for both."""

    def __init__(self, model: BaseEmbedding, weight: float = HEADING_WEIGHT) -> None:
        import numpy as np

        self.np = np
        self.model = model
        self.weight = weight
        #: what the classifier's embedding cache knows it by: not the plain model's vectors
        self.model_name = f"{model.model_name}+heading*{weight}"

    def get_text_embedding_batch(self, texts: list[str], **_: Any) -> list[Any]:
        heads = [t.split(": ", 1)[0] for t in texts]
        distinct = list(dict.fromkeys([*heads, *texts]))
        vectors = dict(zip(distinct, self.model.get_text_embedding_batch(distinct), strict=True))
        out = []
        for head, text in zip(heads, texts, strict=True):
            vector = self.weight * self.np.asarray(vectors[head]) + self.np.asarray(vectors[text])
            out.append(vector / (self.np.linalg.norm(vector) or 1.0))
        return out


@lru_cache(maxsize=1)
def section_model() -> BaseEmbedding:
    """The model as the section classifier uses it (also what its held-out accuracy is measured with)."""
    return cast("BaseEmbedding", HeadingWeighted(bundled_model()))


@lru_cache(maxsize=1)
def _classifier() -> Classifier | None:
    """The section classifier, or None when the model package is not installed."""
    try:
        return Classifier(load_examples(TASK), section_model(), min_score=MIN_SCORE)
    except (KBError, ImportError, OSError):
        return None


def _judged(texts: Sequence[str], use_model: bool) -> None:
    """Judge the texts not judged yet in this process, in one model batch."""
    judge = _classifier() if use_model else None
    needed = list(dict.fromkeys(t for t in texts if t))[:MAX_JUDGED]
    todo = [t for t in needed if t not in _NAMED]
    if judge is None or not todo:
        return
    if len(_NAMED) + len(todo) > _MAX_NAMED:
        _NAMED.clear()
        todo = needed
    for text, verdict in zip(todo, judge.classify(todo), strict=True):
        _NAMED[text] = (SectionName(verdict.label) if verdict.label else SectionName.other, verdict.scores)


def name_sections(
    sections: Sequence[tuple[str, str]], levels: Sequence[int] | None = None, use_model: bool = True
) -> list[SectionName]:
    """The type of each (heading, body) of one document, in one model batch. A heading that is word for word
    an example heading needs no model; a heading the model cannot place is ``other``.

    With ``levels`` (a heading's depth), a subheading is part of its parent section unless it says otherwise:
    it keeps its parent's name when it names nothing, or when the parent's type fits it nearly as well
    (``### Details`` under ``## Root cause``)."""
    exact = exact_names()
    texts = [section_text(heading, body) for heading, body in sections]
    fixed: list[SectionName | None] = [exact.get(_key(clean_heading(h))) for h, _ in sections]
    _judged([t for t, name in zip(texts, fixed, strict=True) if name is None], use_model)
    out: list[SectionName] = []
    for i, (name, text) in enumerate(zip(fixed, texts, strict=True)):
        judged, scores = _NAMED.get(text, (SectionName.other, {}))
        named = name or judged
        parent = _parent(out, levels, i)
        if parent is not None and parent not in (SectionName.body, SectionName.other):
            best = max(scores.values(), default=0.0)
            if named == SectionName.other or (name is None and scores.get(parent, -1.0) >= best - INHERIT_MARGIN):
                named = parent
        out.append(named)
    return out


def _parent(named: Sequence[SectionName], levels: Sequence[int] | None, index: int) -> SectionName | None:
    """The name of the nearest earlier section of a lower level (None: no levels given, or a top section)."""
    if levels is None:
        return None
    for j in range(index - 1, -1, -1):
        if levels[j] < levels[index]:
            return named[j]
    return None


def name_section(heading: str, body: str = "") -> SectionName:
    """The type of one section (prefer ``name_sections`` for a whole document: one batch)."""
    return name_sections([(heading, body)])[0]
