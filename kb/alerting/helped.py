""""What helped last time": one short paragraph, every claim carrying ``[n]`` markers that point at the passage
it comes from.

Without an LLM the paragraph is put together from the statements themselves (``kb.alerting.lessons``): what
fixed the most similar incident(s), in the documents' own words; a step an incident says made things worse,
given only as a caution; the runbook's first action, or, when that action is close in meaning to a step that
made things worse (``kb.gameday.cues.closeness``, the game day's bar for "the same step"), a caution about it
instead. With an LLM the model writes the paragraph from the same passages, numbered as evidence; its lines
are checked as every generator's are (``kb.generation.grounding.Evidence.check_generated``: a line citing a
passage it was not given, or not supported by what it cites, is dropped). When the model fails or nothing it
wrote survives the check, the paragraph from the documents is given, and ``written_by`` says why.

The paragraph is plain text: document words are quoted with white space folded; a statement that carries live
markup or speaks to an AI (``kb.generation.guard.refusal``) is left out.
"""

from __future__ import annotations

from dataclasses import replace

from kb.alerting.lessons import Statement
from kb.alerting.models import AlertGroup, Citation
from kb.clients.openai_client import ChatModel
from kb.core.errors import GroundingError, LLMError
from kb.core.models import Kind, Passage
from kb.gameday.cues import SAME_ACTION, closeness, pieces_of
from kb.gameday.timeline import plain
from kb.generation.grounding import Evidence, require_grounded
from kb.generation.guard import prepare, refusal
from kb.generation.prompting import ask_for_lines
from kb.knowledge import KnowledgeBase
from kb.text.steps import shorten

#: characters of a statement quoted in the paragraph, and of a citation's quote
SAID_CHARS = 160
QUOTE_CHARS = 160
NO_LLM = "the documents (no LLM)"
PROMPT = "enrich"
ROLES = {"fix": "what fixed it", "worse": "made things worse", "runbook": "the runbook's first action",
         "runbook_worse": "the runbook's first action, close to a step that made things worse"}


def quote_at(text: str, start: int, end: int, width: int = QUOTE_CHARS) -> str:
    """The document's own words from ``start`` (verbatim), cut after a whole word when longer than ``width``."""
    piece = text[start:end].rstrip()
    if len(piece) <= width:
        return piece
    cut = max(piece.rfind(" ", 0, width), piece.rfind("\n", 0, width))
    return piece[: cut if cut > width // 2 else width].rstrip()


class Numbering:
    """Numbers cited statements [1], [2], ... in order of first use (one number per passage)."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self.order: dict[tuple[str, int], Citation] = {}

    def mark(self, doc_id: str, start: int, end: int, title: str) -> str:
        key = (doc_id, start)
        if key not in self.order:
            quote = quote_at(self.kb.record(doc_id).text, start, end)
            self.order[key] = Citation(n=len(self.order) + 1, doc_id=doc_id, title=title, start=start, quote=quote)
        return f"[{self.order[key].n}]"

    def of(self, s: Statement) -> str:
        return self.mark(s.doc_id, s.start, s.end, s.title)

    @property
    def citations(self) -> tuple[Citation, ...]:
        return tuple(self.order.values())


def usable(statements: list[Statement]) -> list[Statement]:
    """The statements that may be shown (no live markup, nothing addressed to an AI), a runbook action close to a
    step that made things worse marked so."""
    prepare(s.said for s in statements)
    kept = [s for s in statements if refusal(s.said) is None]
    # an entry's own arrows ("110 -> 120") are not the " -> " that parts a step from its effect in closeness
    worse = [s.said.replace(" -> ", " \u2192 ") for s in kept if s.role == "worse"]
    if worse:
        kept = [replace(s, role="runbook_worse") if s.role == "runbook" and _like(s, worse) else s for s in kept]
    return kept


def _like(step: Statement, worse: list[str]) -> bool:
    """Whether a runbook step (one of its sentences or clauses, its commands too) proposes a step that made
    things worse: as close in meaning as a game day needs to call a proposal the same step."""
    pieces = pieces_of(" ".join(plain(step.whole or step.said).split()))
    return any(max(closeness(piece, worse)) >= SAME_ACTION for piece in pieces)


def write_helped(kb: KnowledgeBase, group: AlertGroup, statements: list[Statement], *,
                 partly: bool = False) -> tuple[str, tuple[Citation, ...], str]:
    """The paragraph, its citations and who wrote it; ("", (), ...) when nothing says what helped."""
    statements = usable(statements)
    if not any(s.role in ("fix", "runbook") for s in statements):
        return "", (), NO_LLM
    llm = kb.llm
    if llm is not None:
        try:
            text, citations = by_llm(kb, llm, group, statements)
            return text, citations, f"{llm.model} (LLM), from the cited passages"
        except (LLMError, GroundingError) as exc:
            text, citations = from_documents(kb, statements, partly)
            return text, citations, f"{NO_LLM}: the LLM's paragraph was not used ({_first_line(exc)})"
    text, citations = from_documents(kb, statements, partly)
    return text, citations, NO_LLM


def _first_line(exc: Exception) -> str:
    return shorten(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, 200)


def _said(s: Statement) -> str:
    return "\u201c" + shorten(s.said, SAID_CHARS).replace("\u201d", '"') + "\u201d"


def from_documents(kb: KnowledgeBase, statements: list[Statement], partly: bool) -> tuple[str, tuple[Citation, ...]]:
    """The paragraph put together from the statements, in the documents' own words."""
    numbers = Numbering(kb)
    parts: list[str] = []
    incidents = list(dict.fromkeys(s.doc_id for s in statements if s.role in ("fix", "worse")))
    for k, doc_id in enumerate(incidents):
        own = [s for s in statements if s.doc_id == doc_id]
        fixes, worse = [s for s in own if s.role == "fix"], [s for s in own if s.role == "worse"]
        first = own[0]
        lead = ("In a partly similar past incident" if partly else "In the most similar past incident") if k == 0 \
            else "In another similar incident"
        when = f"{first.date}, " if first.date else ""
        if fixes:
            said = "; ".join(f"{_said(s)} {numbers.of(s)}" for s in fixes)
            parts.append(f"{lead} ({when}\u201c{shorten(first.title, 120)}\u201d), what fixed it: {said}.")
        for s in worse:
            there = "there" if fixes else f"in {when}\u201c{shorten(first.title, 120)}\u201d"
            parts.append(f"Caution: {there}, {_said(s)} {numbers.of(s)} made things worse.")
    for s in statements:
        if s.role == "runbook":
            parts.append(f"The runbook \u201c{shorten(s.title, 120)}\u201d starts with {_said(s)} {numbers.of(s)}.")
        elif s.role == "runbook_worse":
            harm = next(x for x in statements if x.role == "worse")
            parts.append(f"Caution: the runbook \u201c{shorten(s.title, 120)}\u201d starts with {_said(s)} "
                         f"{numbers.of(s)}, a step like the one that made things worse {numbers.of(harm)}: "
                         "check the incidents before following it.")
    return " ".join(parts), numbers.citations


def _passages(kb: KnowledgeBase, statements: list[Statement]) -> list[Passage]:
    out = []
    for s in statements:
        record = kb.record(s.doc_id)
        out.append(Passage(id="", doc_id=s.doc_id, title=s.title, kind=record.kind if record.kind else Kind.document,
                           section=ROLES[s.role], start=s.start, end=s.end, text=record.text[s.start : s.end],
                           date=record.date))
    return out


def by_llm(kb: KnowledgeBase, llm: ChatModel, group: AlertGroup,
           statements: list[Statement]) -> tuple[str, tuple[Citation, ...]]:
    """The paragraph written by the model from the statements' passages, each line's citations checked."""
    evidence = Evidence.numbered(_passages(kb, statements))
    reply = ask_for_lines(llm, PROMPT, evidence, ["helped"], alert=group.title, alert_text=group.text)
    items, dropped = evidence.check_generated(reply.lines, ["helped"])
    require_grounded(items, dropped, "paragraph")
    numbers = Numbering(kb)
    titles = {p.doc_id: p.title for p in evidence.passages.values()}
    sentences = []
    for item in items:
        marks = "".join(numbers.mark(c.doc_id, c.start, c.end, titles.get(c.doc_id, "")) for c in item.citations)
        text = " ".join(item.text.split())
        sentences.append(f"{text[:-1]} {marks}." if text.endswith(".") else f"{text} {marks}")
    return " ".join(sentences), numbers.citations
