"""Citations checked in code: the passages a generator was given, and what may cite them.

A generator (extractive or an LLM) gets an ``Evidence`` pack: numbered passages, each a span of a stored
document. Whatever it produces goes through ``Evidence.check``:

- a line must cite at least one passage;
- every passage it cites must be one it was given (an unknown handle rejects the line: a model that
  invents a source is not trusted for that line);
- an extractive citation must lie inside a given passage and quote its text exactly;
- the line must share enough of its content words with what it cites to be supported by it;
- a line resting only on passages that address instructions to an AI ("ignore previous instructions") is
  dropped: such text is data to report, never a source of steps. So is a line (extractive or written by a
  model) that itself speaks to an AI or carries live markup (raw HTML, a ``javascript:`` link); a model's
  line may link only to http(s) addresses and may not embed images (``kb.generation.guard``);
- a kept line whose commands delete, force or run a downloaded script carries ``cautions`` saying so.

Lines that fail are dropped and listed with the reason (repair); when nothing is left the caller refuses
the whole output with ``GroundingError``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from pydantic import BaseModel, Field

from kb.core.errors import GroundingError
from kb.core.models import Citation, DraftItem, DroppedItem, Passage
from kb.generation.guard import cautions, prepare, refusal, speaks_to_ai
from kb.text.steps import containment, terms_of

#: A line must share at least this share of its content terms with the passages it cites.
MIN_SUPPORT = 0.3
QUOTE_CHARS = 240


class GeneratedLine(BaseModel):
    """One line an LLM writes: the structured-output schema for every generator."""

    section: str = Field(description="Which section of the output the line belongs to (one of those listed).")
    text: str = Field(description="The line itself: one step, fact or sentence.")
    cites: list[str] = Field(description="Ids of the passages that support the line, e.g. ['P2', 'P5'].")
    quote: str | None = Field(default=None, description="Optional: a short exact quote from the first cited passage.")


class GeneratedDraft(BaseModel):
    """What an LLM returns for a draft: its lines, each with citations."""

    title: str | None = Field(default=None, description="A short title for the document.")
    lines: list[GeneratedLine] = Field(description="The lines of the document, in order.")


class Evidence:
    """The numbered passages given to one generation, and the check of what cites them."""

    def __init__(self, passages: Iterable[Passage]) -> None:
        self.passages: dict[str, Passage] = {}
        for passage in passages:
            self.passages[passage.id] = passage

    @classmethod
    def numbered(cls, passages: Sequence[Passage]) -> Evidence:
        """Give the passages the handles P1, P2, ... in order."""
        return cls(p.model_copy(update={"id": f"P{n}"}) for n, p in enumerate(passages, start=1))

    def __len__(self) -> int:
        return len(self.passages)

    def citation(self, passage_id: str, quote: str | None = None) -> Citation | None:
        """A citation of a given passage, narrowed to ``quote`` when the quote is found in it."""
        passage = self.passages.get(passage_id.strip().strip("[]"))
        if passage is None:
            return None
        start, end = passage.start, passage.end
        if quote and quote.strip():
            at = passage.text.find(quote.strip())
            if at >= 0:
                start = passage.start + at
                end = start + len(quote.strip())
        text = passage.text[start - passage.start : end - passage.start]
        return Citation(doc_id=passage.doc_id, section=passage.section, start=start, end=end, quote=text[:QUOTE_CHARS])

    def span_citation(self, doc_id: str, start: int, end: int) -> Citation | None:
        """A citation of an exact span, if it lies inside a passage that was given."""
        for passage in self.passages.values():
            if passage.doc_id == doc_id and passage.start <= start < end <= passage.end:
                text = passage.text[start - passage.start : end - passage.start]
                return Citation(doc_id=doc_id, section=passage.section, start=start, end=end, quote=text[:QUOTE_CHARS])
        return None

    def resolves(self, citation: Citation) -> bool:
        """Does the citation point inside a given passage, quoting it exactly (when it quotes)?"""
        for passage in self.passages.values():
            if passage.doc_id != citation.doc_id:
                continue
            if passage.start <= citation.start < citation.end <= passage.end:
                text = passage.text[citation.start - passage.start : citation.end - passage.start]
                return not citation.quote or text.startswith(citation.quote)
        return False

    def cited_text(self, citations: Sequence[Citation]) -> str:
        """The whole passages behind some citations (what a line may draw its words from)."""
        out = []
        for citation in citations:
            for passage in self.passages.values():
                if passage.doc_id == citation.doc_id and passage.start <= citation.start < passage.end:
                    out.append(passage.text)
                    break
        return "\n".join(out)

    # -- checks -----------------------------------------------------------------------------

    def supported(self, text: str, citations: Sequence[Citation]) -> bool:
        words = terms_of(text)
        if not words:
            return False  # a line with no content words says nothing its sources could support
        return containment(words, terms_of(self.cited_text(citations))) >= MIN_SUPPORT

    def check_generated(
        self, lines: Sequence[GeneratedLine], sections: Sequence[str]
    ) -> tuple[list[DraftItem], list[DroppedItem]]:
        """Model output -> (grounded items, dropped lines with reasons)."""
        kept: list[DraftItem] = []
        dropped: list[DroppedItem] = []
        allowed = {s.lower() for s in sections}
        for line in lines:
            text = line.text.strip()
            section = line.section.strip().lower().replace(" ", "_")
            if not text:
                continue
            if allowed and section not in allowed:
                dropped.append(DroppedItem(text=text, reason=f"unknown section '{line.section}'"))
                continue
            if not line.cites:
                dropped.append(DroppedItem(text=text, reason="cites no passage"))
                continue
            unknown = [c for c in line.cites if self.citation(c) is None]
            if unknown:
                dropped.append(
                    DroppedItem(text=text, reason=f"cites {', '.join(unknown)}, which it was not given")
                )
                continue
            citations = []
            for n, handle in enumerate(dict.fromkeys(line.cites)):
                citation = self.citation(handle, line.quote if n == 0 else None)
                if citation is not None:
                    citations.append(citation)
            why = refusal(text, web_links_only=True)
            if why:
                dropped.append(DroppedItem(text=text, reason=why))
                continue
            if all(speaks_to_ai(self.cited_text([c])) for c in citations):
                dropped.append(
                    DroppedItem(
                        text=text,
                        reason="rests only on a passage that gives instructions to an AI (possible prompt injection)",
                    )
                )
                continue
            if not self.supported(text, citations):
                dropped.append(DroppedItem(text=text, reason="not supported by the passages it cites"))
                continue
            kept.append(DraftItem(section=section, text=text, citations=citations, cautions=cautions(text)))
        return kept, dropped

    def check_items(self, items: Sequence[DraftItem]) -> tuple[list[DraftItem], list[DroppedItem]]:
        """Extractive output -> (items whose every citation resolves and whose text may be shown as a step,
        with their cautions; dropped items)."""
        kept: list[DraftItem] = []
        dropped: list[DroppedItem] = []
        prepare(item.text for item in items if item.citations)
        for item in items:
            why = None if not item.citations else refusal(item.text)
            if not item.citations:
                dropped.append(DroppedItem(text=item.text, reason="cites no passage"))
            elif not all(self.resolves(c) for c in item.citations):
                dropped.append(DroppedItem(text=item.text, reason="a citation does not resolve to a given passage"))
            elif why:
                dropped.append(DroppedItem(text=item.text, reason=why))
            else:
                kept.append(item.model_copy(update={"cautions": cautions(item.text)}))
        return kept, dropped


def require_grounded(items: Sequence[DraftItem], dropped: Sequence[DroppedItem], what: str) -> None:
    """Refuse output with nothing grounded left in it."""
    if not items:
        reasons = "; ".join(f"{d.reason}: {d.text[:60]!r}" for d in list(dropped)[:5])
        raise GroundingError(
            f"refused the {what}: no line of it cites a passage it was given"
            + (f" ({len(dropped)} lines dropped: {reasons})" if dropped else ""),
            [(d.text, d.reason) for d in dropped],
        )


def set_aside(model: str, problem: Exception) -> str:
    """What output says when the offline path answered because the LLM's reply could not be used (not JSON
    for the schema twice, or no line of it grounded): a small local model often cannot do the task."""
    reason = str(problem)[:200]
    if isinstance(problem, GroundingError):  # its lines are listed as dropped: not quoted again up here
        reason = reason.split(" (", 1)[0] + (f"; {len(problem.dropped)} of its lines dropped"
                                             if problem.dropped else "")
    return f"The reply of {model} could not be used ({reason}), so this was drafted without it."


# -- rendering -------------------------------------------------------------------------------


class References:
    """Numbers citations [1], [2], ... in order of first use and lists them. ``mark`` writes a number's mark
    (``[n]`` by default; a page can make it a link to the passage)."""

    def __init__(self, mark: Callable[[int, Citation], str] | None = None) -> None:
        self.order: dict[tuple[str, int, int], int] = {}
        self.sections: dict[tuple[str, int, int], str] = {}
        self.mark = mark or (lambda n, c: f"[{n}]")

    def _citation(self, key: tuple[str, int, int]) -> Citation:
        return Citation(doc_id=key[0], section=self.sections[key], start=key[1], end=key[2])

    def marks(self, citations: Sequence[Citation]) -> str:
        numbers = []
        for c in citations:
            key = (c.doc_id, c.start, c.end)
            if key not in self.order:
                self.order[key] = len(self.order) + 1
                self.sections[key] = c.section
            numbers.append(key)
        return "".join(self.mark(self.order[k], self._citation(k)) for k in dict.fromkeys(numbers))

    def lines(self, titles: dict[str, str]) -> list[str]:
        out = []
        for (doc_id, start, end), n in self.order.items():
            title = titles.get(doc_id, "")
            out.append(
                f"{self.mark(n, self._citation((doc_id, start, end)))} `{doc_id}`" + (f" {title}" if title else "")
                + f", {self.sections[(doc_id, start, end)]}, chars {start}-{end}"
            )
        return out


def indent_continuation(text: str, prefix: str, marks: str = "") -> str:
    """A multi-line step under a list marker: continuation lines indented to stay in the item; citation
    marks go at the end of the first line (after a code fence they would break it)."""
    if marks and text.lstrip().startswith(("```", "~~~")):
        first, *rest = [marks, *text.split("\n")]
    elif marks and text.rstrip().endswith(("```", "~~~")):
        first, *rest = text.split("\n")
        first = f"{first.rstrip()} {marks}"
    else:
        first, *rest = (f"{text.rstrip()} {marks}" if marks else text).split("\n")
    pad = " " * len(prefix)
    return prefix + first + "".join("\n" + (pad + line if line.strip() else "") for line in rest)
