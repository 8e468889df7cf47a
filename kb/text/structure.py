"""How a Markdown text is built, counted in words: headings, comments, links and the rest.

A page can be long and still say nothing: a list of links to other pages, a template whose sections hold
only headings and commented-out hints, a stub that points elsewhere. What it is made of is syntax, read with
the Markdown parser (never by its wording): the words of its headings, of its HTML comments, of its links
(link text and bare URLs), and of the blocks made mostly of links (a list item or paragraph that is a link
with a few words beside it). ``content_words`` are the words left: what the page itself says. Code counts
as content (a command is what a runbook says).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from markdown_it import MarkdownIt
from markdown_it.token import Token

COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.S)
_URL = re.compile(r"\bhttps?://\S+")
#: a Hugo cross-reference as a link destination (``[text]({{< ref "page.md" >}})``): the page it names
_SHORTCODE_REF = re.compile(r"""\{\{<\s*(?:rel)?ref\s+"([^"]+)"\s*>\}\}""")
_WORD = re.compile(r"[^\W_](?:[\w'./:-]*\w)?")
#: a block is a link block when at least this share of its words are in links (or it opens with a link
#: and says no more than LINK_ITEM_WORDS words beside it)
LINK_BLOCK_SHARE = 0.5
LINK_ITEM_WORDS = 12
#: a text is a list of links when at least this share of its words outside headings and comments are in link
#: blocks (a links page at ingest, a "see also" passage)
LINK_LIST_SHARE = 0.6


@dataclass
class Structure:
    """Word counts of a text by what the words are part of."""

    words: int = 0  #: every visible word (HTML comments included)
    heading_words: int = 0
    comment_words: int = 0
    link_words: int = 0  #: words of link texts and bare URLs anywhere
    link_block_words: int = 0  #: words of the blocks that are mostly links
    content_words: int = 0  #: words outside headings, comments and link blocks
    links: int = 0  #: links and bare URLs
    link_blocks: int = 0
    blocks: int = 0  #: paragraphs, list items and code blocks outside headings
    targets: list[str] = field(default_factory=list)  #: link destinations, in order

    @property
    def link_share(self) -> float:
        """The share of the words outside headings and comments that are in link blocks."""
        body = self.link_block_words + self.content_words
        return self.link_block_words / body if body else 0.0

    @property
    def link_list(self) -> bool:
        """Is the text (beside its headings and comments) mostly a list of links?"""
        return self.link_blocks > 0 and self.link_share >= LINK_LIST_SHARE


def _count(text: str) -> int:
    return len(_WORD.findall(text))


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": True})


def _inline(children: list[Token], out: Structure) -> tuple[int, int, bool]:
    """(words, words in links, opens with a link) of one inline run; comments are counted aside."""
    words = linked = 0
    depth = 0
    opens = False
    seen_text = False
    for tok in children:
        if tok.type == "link_open":
            depth += 1
            out.links += 1
            out.targets.append(str(tok.attrs.get("href", "")))
            opens = opens or not seen_text
        elif tok.type == "link_close":
            depth = max(0, depth - 1)
        elif tok.type == "html_inline" and tok.content.startswith("<!--"):
            out.comment_words += _count(tok.content)
        elif tok.type in ("text", "code_inline", "image"):
            content = tok.content
            urls = _URL.findall(content) if depth == 0 else []
            for url in urls:
                out.links += 1
                out.targets.append(url.rstrip(").,;"))
                content = content.replace(url, " ")
            n, u = _count(content), sum(_count(url) for url in urls)
            if (n or u) and not seen_text and depth == 0 and u and not n:
                opens = True
            seen_text = seen_text or bool(n) or bool(u)
            words += n + u
            linked += u + (n if depth else 0)
    return words, linked, opens


def structure(text: str) -> Structure:
    """The word counts of a Markdown (or plain) text by part."""
    out = Structure()
    in_heading = False
    for tok in _parser().parse(_SHORTCODE_REF.sub(r"\1", text)):
        if tok.type == "heading_open":
            in_heading = True
        elif tok.type == "heading_close":
            in_heading = False
        elif tok.type == "html_block":
            comments = " ".join(COMMENT.findall(tok.content))
            out.comment_words += _count(comments)
            out.content_words += _count(COMMENT.sub(" ", re.sub(r"<[^>]*>", " ", tok.content)))
        elif tok.type in ("fence", "code_block"):
            out.blocks += 1
            out.content_words += _count(tok.content)
        elif tok.type == "inline":
            words, linked, opens = _inline(tok.children or [], out)
            if in_heading:
                out.heading_words += words
                continue
            if not words:
                continue
            out.blocks += 1
            out.link_words += linked
            if linked and (linked >= LINK_BLOCK_SHARE * words or (opens and words - linked <= LINK_ITEM_WORDS)):
                out.link_blocks += 1
                out.link_block_words += words
            else:
                out.content_words += words
    out.words = out.heading_words + out.comment_words + out.link_block_words + out.content_words
    return out


@dataclass(frozen=True)
class Lines:
    """Which lines of a Markdown text (counted from 0) are headings and which are code, as the parser reads it."""

    #: the first line of each top-level heading (ATX or setext) -> (its text as written, the lines it takes)
    headings: dict[int, tuple[str, range]]
    #: the lines of fenced and indented code blocks, fences included (a fence never closed runs to the end)
    code: frozenset[int]


def lines(text: str) -> Lines:
    """The heading and code lines of ``text``, read with the Markdown parser."""
    headings: dict[int, tuple[str, range]] = {}
    code: set[int] = set()
    tokens = _parser().parse(text)
    for i, tok in enumerate(tokens):
        if tok.map is None:
            continue
        if tok.type == "heading_open" and tok.level == 0 and i + 1 < len(tokens):
            headings[tok.map[0]] = (tokens[i + 1].content.strip(), range(*tok.map))
        elif tok.type in ("fence", "code_block"):
            code.update(range(*tok.map))
    return Lines(headings, frozenset(code))
