"""Live markup in Markdown text: finding it (``markup``, one of the guard's checks, see ``kb.generation.guard``)
and defusing it for a browser (``inert``).

- ``markup``: raw HTML that does something (a tag with attributes, a closing tag, an element of the HTML
  standard such as script, img, iframe) and links or images whose address has a scheme other than http(s)
  (javascript:, data:, vbscript:, file:). Decided by parsing the text as CommonMark (markdown-it-py): what is
  inside code spans and code blocks is code, shown as text, and never counts.
- ``inert``: Markdown made safe to render in a browser: images and HTML shown as text, so nothing a document
  names is fetched by the viewer's browser.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser

from markdown_it import MarkdownIt
from markdown_it.common.html_blocks import block_names
from markdown_it.token import Token

from kb.text.fences import Fences, Role, code_spans

# -- finding markup ---------------------------------------------------------------------------------

#: Elements of the HTML standard that load, run or restructure something; with CommonMark's block names.
ACTIVE_ELEMENTS = frozenset(block_names) | {
    "script", "style", "textarea", "pre", "img", "image", "svg", "math", "iframe", "object", "embed", "video",
    "audio", "source", "picture", "input", "button", "a", "form", "link", "meta", "base", "applet", "frame",
    "marquee", "template", "portal", "noscript",
}
WEB_SCHEMES = ("http", "https")
_SCHEME = re.compile(r"^\s*([A-Za-z][A-Za-z0-9+.-]{0,31}):")
#: a script URL written out as text (javascript:alert(1)), not only as a link
_SCRIPT_URL = re.compile(r"\b(?:javascript|vbscript|livescript)\s*:|\bdata\s*:\s*text/html", re.I)


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True})
    md.validateLink = lambda url: True  # type: ignore[method-assign]  # see every link, whatever its scheme, to judge it here
    return md


_MD = _markdown()


class _Tags(HTMLParser):
    """The tags of an HTML fragment: (name, has attributes, closing)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, bool, bool]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, bool(attrs), False))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, bool(attrs), False))

    def handle_endtag(self, tag: str) -> None:
        self.tags.append((tag, False, True))


def _tokens(text: str) -> Iterator[Token]:
    for token in _MD.parse(text):
        yield token
        yield from token.children or ()


def scheme_of(url: str) -> str | None:
    match = _SCHEME.match(url)
    return match.group(1).lower() if match else None


def _html_reason(fragment: str) -> str | None:
    parser = _Tags()
    parser.feed(fragment)
    parser.close()
    for name, has_attrs, closing in parser.tags:
        if has_attrs or closing or name in ACTIVE_ELEMENTS:
            return f"raw HTML markup (<{'/' if closing else ''}{name}>)"
    return None


#: Longest text parsed as CommonMark; a longer one is judged by a stricter linear scan (any tag-like ``<``).
MAX_PARSE_CHARS = 20_000
_TAG_START = re.compile(r"<\s*/?\s*[A-Za-z!?]")


def markup(text: str, web_links_only: bool = False) -> str | None:
    """Why the text is markup rather than a step (None when it is not). ``web_links_only``: any link or
    image address with a scheme other than http(s) counts (model output); otherwise script schemes."""
    if len(text) > MAX_PARSE_CHARS:
        if _TAG_START.search(text) or _SCRIPT_URL.search(text) or (web_links_only and "](" in text):
            return f"something that may be markup in a text too long to parse ({len(text)} characters)"
        return None
    for token in _tokens(text):
        if token.type in ("html_inline", "html_block"):
            reason = _html_reason(token.content)
            if reason:
                return reason
        elif token.type in ("link_open", "image"):
            url = str(token.attrs.get("href" if token.type == "link_open" else "src", ""))
            scheme = scheme_of(url)
            if (scheme and scheme not in WEB_SCHEMES and web_links_only) or _SCRIPT_URL.match(url.strip()):
                return f"a link to a {scheme}: address"
            if token.type == "image" and web_links_only:
                return "an image (a model may not make the reader's browser fetch an address)"
        elif token.type == "text" and _SCRIPT_URL.search(token.content):
            return "a script address (javascript:)"
    return None


# -- rendering --------------------------------------------------------------------------------------------

_IMAGE_OPENER = re.compile(r"\\.|!\[")


def _defuse(text: str) -> str:
    """Every ``<`` as ``&lt;`` (no HTML), every ``![`` not already escaped as ``!\\[`` (no image)."""
    text = text.replace("<", "&lt;")
    if "![" not in text:
        return text
    return _IMAGE_OPENER.sub(lambda m: "!\\[" if m.group(0) == "![" else m.group(0), text)


def _inert_line(line: str) -> str:
    """One line outside a code block: image openers and HTML tag openers escaped, code spans left alone."""
    if "`" not in line:
        return _defuse(line)
    out, pos = [], 0
    for start, end in code_spans(line):
        out += [_defuse(line[pos:start]), line[start:end]]
        pos = end
    out.append(_defuse(line[pos:]))
    return "".join(out)


def inert(markdown: str) -> str:
    """Markdown to render in a browser with nothing fetched: every image (``![alt](address)``, reference
    images) and every HTML tag shown as its text; code blocks and code spans unchanged (they render as text)."""
    out: list[str] = []
    fences = Fences(max_indent=3)
    for line in markdown.split("\n"):
        out.append(line if fences.role(line) is not Role.TEXT else _inert_line(line))
    return "\n".join(out)
