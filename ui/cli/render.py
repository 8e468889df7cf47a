"""Terminal rendering: highlighted passages and short tables."""

from __future__ import annotations

import re
import sys
import textwrap

from kb.core.models import RankedDocument
from kb.retrieval.reasons import terms
from kb.retrieval.relevance import relevance
from kb.retrieval.similar import COVERING_RUNBOOK

#: how a filler document is marked in a result list
FILLER = {"redirect": "redirect to {}", "links": "mostly links", "template": "empty template"}
#: an inline code span (syntax); split keeps it as every second part
CODE_SPAN = re.compile(r"(`[^`\n]*`)")
BOLD, DIM, YELLOW, CYAN, RESET = "\033[1m", "\033[2m", "\033[33m", "\033[36m", "\033[0m"


def color() -> bool:
    return sys.stdout.isatty()


def highlight(text: str, query: str) -> str:
    """Mark query words in a passage: bold yellow on a terminal, **word** otherwise."""
    words = sorted({t for t in terms(query) if len(t) > 2}, key=len, reverse=True)
    if not words:
        return text
    pattern = re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")\w*", re.I)
    if color():
        return pattern.sub(lambda m: f"{BOLD}{YELLOW}{m.group(0)}{RESET}", text)
    # Markdown marks: none inside a code span, where they would show as stars (`**api**-gateway`)
    parts = CODE_SPAN.split(text)
    return "".join(part if n % 2 else pattern.sub(lambda m: f"**{m.group(0)}**", part) for n, part in enumerate(parts))


def passage(text: str, limit: int = 420) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rsplit(" ", 1)[0] + " …"


def results(docs: list[RankedDocument], query: str, labels: bool = False) -> str:
    """A result list; ``labels``: each with its match label (strong, partial, weak; a search's, not `similar`'s)."""
    if not docs:
        return "No matching documents."
    c = color()
    lines: list[str] = []
    for n, doc in enumerate(docs, start=1):
        rec = doc.record
        marked = FILLER.get(rec.filler, rec.filler).format(rec.redirect)
        services = ", ".join(rec.services[:4])
        label = relevance(doc).value if labels else ""
        fields = (label, doc.relation, rec.kind.value, marked, rec.severity or "", str(rec.date or ""), services)
        meta = " · ".join(x for x in fields if x)
        title = f"{BOLD}{rec.title}{RESET}" if c else rec.title
        lines.append(f"{n}. {title}  [{rec.id}]  score {doc.score:.3f}")
        lines.append(f"   {DIM if c else ''}{meta}{RESET if c else ''}")
        if doc.why:
            lines.append("   why: " + "; ".join(doc.why))
        for hit in doc.hits:
            head = f"{CYAN}{hit.chunk.section}{RESET}" if c else hit.chunk.section
            body = textwrap.fill(  # names such as payments-gateway.svc are never cut at a hyphen
                highlight(passage(hit.chunk.text), query), width=100, initial_indent="     ", subsequent_indent="     ",
                break_on_hyphens=False, break_long_words=False,
            )
            lines.append(f"   - {head} ({hit.score:.3f})")
            lines.append(body)
        lines.append("")
    return "\n".join(lines).rstrip()


def similar_results(docs: list[RankedDocument]) -> str:
    """`kb similar`: the similar incidents, then the runbooks that cover the incident under their own heading."""
    if not docs:
        return "No similar documents."
    covering = [d for d in docs if d.relation == COVERING_RUNBOOK]
    others = [d for d in docs if d.relation != COVERING_RUNBOOK]
    parts = [results(others, "")] if others else []
    if covering:
        head = "Runbooks that cover this incident:"
        parts.append((f"{BOLD}{head}{RESET}" if color() else head) + "\n\n" + results(covering, ""))
    return "\n\n".join(parts)
