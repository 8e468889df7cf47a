"""Filler, recognised at ingest by what it is: documents and passages that say nothing of their own.

- A *redirect* stub: a short page whose few words point to another page ("moved to ...", "see ...", "more
  in ..."). Short and linking is syntax (``kb.text.structure``); that its words only point elsewhere is
  meaning, judged by the bundled embedding model against labelled examples (task ``filler``: ``redirect``
  or ``content``), so a short page that says what to do ("silence it, the rule is retired") stays content.
  The stub keeps its link target (``Record.redirect``); search follows it (``kb.retrieval.filler``).
- A *links* page: mostly a list of links (a README index, a team's bookmarks).
- A *template*: nothing but headings, HTML comments and placeholders; every section (nearly) empty.

A document marked filler is still stored and searchable, ranked below content. A passage that is only a
heading, a comment or a placeholder ("## Impact" over "TODO", judged by the model) is not stored at all
when its document has other passages (``sift``): it answers nothing and would take a result's highlight;
a document with nothing else is a template.
"""

from __future__ import annotations

from collections.abc import Sequence

from kb.core.models import Chunk, Kind, Record
from kb.text.front_matter import FRONT_MATTER_RE
from kb.text.structure import COMMENT as _COMMENT
from kb.text.structure import LINK_LIST_SHARE, Structure, structure

REDIRECT = "redirect"
LINKS = "links"
TEMPLATE = "template"
PLACEHOLDER = "placeholder"
TASK = "filler"
#: a redirect stub says at most this many words outside its headings, and links to one or two places
REDIRECT_WORDS = 15
REDIRECT_LINKS = 2
#: a links page: at least this many link blocks, holding at least this share of the words outside headings
LINKS_BLOCKS = 5
LINKS_SHARE = LINK_LIST_SHARE
#: a passage with no more than this many words outside its headings and comments may be a placeholder
#: ("TODO", "To be added."): the model decides
PLACEHOLDER_WORDS = 4
#: how far ahead of the next label a placeholder call must be (a name or a figure after a field label,
#: "Owner: Dana", is a close call; "TODO" and "To be added." are clear ones)
PLACEHOLDER_MARGIN = 0.1
#: the model reads this much of a short page's body
BODY_CHARS = 600


def _body(text: str) -> str:
    """A text without its front matter block."""
    match = FRONT_MATTER_RE.match(text)
    return text[match.end() :] if match else text


def _said(text: str) -> int:
    """The words of a text outside its headings and comments."""
    shape = structure(text)
    return shape.content_words + shape.link_block_words


def _visible(text: str) -> str:
    """A text as the model reads it: without headings, front matter and comments."""
    lines = [line for line in _body(text).splitlines() if not line.lstrip().startswith("#")]
    return " ".join(_COMMENT.sub(" ", "\n".join(lines)).split())[:BODY_CHARS]


def by_structure(shape: Structure) -> str:
    """LINKS, 'short' (a short page with a link: a redirect if the model says so) or '' by structure."""
    if shape.link_blocks >= LINKS_BLOCKS and shape.link_share >= LINKS_SHARE:
        return LINKS
    if 1 <= shape.links <= REDIRECT_LINKS and shape.content_words + shape.link_block_words <= REDIRECT_WORDS:
        return "short"
    return ""


def _labels(texts: list[str], use_model: bool) -> list[str | None]:
    """The model's label (REDIRECT, PLACEHOLDER, 'content') for each text, in one batch."""
    if not texts or not use_model:
        return [None] * len(texts)
    from kb.retrieval.meaning import classifier

    verdicts = classifier(TASK).classify([_visible(t) for t in texts])
    return [None if v.label == PLACEHOLDER and v.margin < PLACEHOLDER_MARGIN else v.label for v in verdicts]


def sift(records: Sequence[Record], chunks: Sequence[list[Chunk]], use_model: bool = True) -> list[list[Chunk]]:
    """Mark each record's ``filler`` and ``redirect``, and return the passages worth storing of each: the
    empty ones (nothing but headings, comments, or a placeholder) left out, unless a document has nothing
    else, which makes it a template. Short linking pages and short passages go to the model in one batch."""
    prose = [not (r.kind == Kind.chat or r.messages) for r in records]
    shapes = [structure(_body(r.text)) if keep else Structure() for r, keep in zip(records, prose, strict=True)]
    calls = [by_structure(s) if keep else "" for s, keep in zip(shapes, prose, strict=True)]
    said = [
        [_said(c.text) if keep else PLACEHOLDER_WORDS + 1 for c in cs] for cs, keep in zip(chunks, prose, strict=True)
    ]
    short: list[tuple[int, int | None]] = [(i, None) for i, call in enumerate(calls) if call == "short"]
    short += [(i, j) for i, counts in enumerate(said) for j, n in enumerate(counts) if 0 < n <= PLACEHOLDER_WORDS]
    texts = [records[i].text if j is None else chunks[i][j].text for i, j in short]
    labels = dict(zip(short, _labels(texts, use_model), strict=True))
    kept_all: list[list[Chunk]] = []
    for i, record in enumerate(records):
        empty = [n == 0 or labels.get((i, j)) == PLACEHOLDER for j, n in enumerate(said[i])]
        kept = [c for c, gone in zip(chunks[i], empty, strict=True) if not gone]
        record.filler, record.redirect = "", ""
        if labels.get((i, None)) == REDIRECT:
            record.filler, record.redirect = REDIRECT, next((t for t in shapes[i].targets if t), "")
        elif calls[i] == LINKS:
            record.filler = LINKS
        elif prose[i] and chunks[i] and not kept:
            record.filler = TEMPLATE
        kept_all.append(kept or list(chunks[i]))
    return kept_all
