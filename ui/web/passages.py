"""Passages as an on-call engineer reads them in a result list: Markdown rendered (through ``inert``: raw HTML and
images shown as text), headings as bold lines, code blocks as code, cut at a line or word boundary (never inside a
command) with an ellipsis, and the query's words in bold where that cannot change what the text means."""

from __future__ import annotations

import re
from typing import Any

from kb.generation.chatlines import PROMPT
from kb.generation.markup import inert
from kb.generation.quoting import quote_parts, quoted
from kb.retrieval.reasons import terms
from kb.text.structure import lines as markdown_lines

#: how much of a passage a result card shows before "…"
PASSAGE_CHARS = 700
_CODE_SPAN = re.compile(r"(`+)(?:.+?)\1")
#: characters around which bold could pair with Markdown already in the text (emphasis, links, escapes, HTML)
_UNSAFE = re.compile(r"[*_\[\]<>\\~]|://")
_LANGUAGE = re.compile(r"^[A-Za-z0-9_+-]{1,20}$")
_LIST_MARKER = re.compile(r"^\s*((?:\d+[.)]|[-*+])[ \t]+)(?=\S)")


def cut(text: str, limit: int = PASSAGE_CHARS) -> tuple[str, bool]:
    """The start of ``text`` up to about ``limit`` characters, and whether anything was left out. The cut falls at
    the end of a line (always inside a code block or on a line run at a prompt, so no command is shown half), else
    at the end of a word; a first line longer than the limit that is code is kept whole up to three times the limit."""
    text = text.strip("\n")
    if len(text) <= limit:
        return text, False
    head = text[:limit]
    newline = head.rfind("\n")
    next_newline = text.find("\n", newline + 1)
    line = text[newline + 1 : next_newline if next_newline >= 0 else len(text)]
    code = text.count("\n", 0, newline + 1) in markdown_lines(text).code or bool(PROMPT.match(line.lstrip()))
    if newline > 0 and (code or newline >= limit // 2):
        return head[:newline].rstrip(), True
    if code and (next_newline < 0 or next_newline <= 3 * limit):
        whole = text if next_newline < 0 else text[:next_newline]
        return whole.rstrip(), next_newline >= 0
    space = head.rfind(" ")
    return (head[:space] if space >= limit // 2 else head).rstrip(), True


def _headings_apart(text: str) -> str:
    """Each Markdown heading outside code on a line of its own, as bold text (a card has no room for headings,
    and a raw ``## Impact`` must never show)."""
    out: list[str] = []
    headings = markdown_lines(text).headings
    taken: set[int] = set()
    for number, line in enumerate(text.split("\n")):
        if number in headings:
            title, span = headings[number]
            taken.update(span)
            out += ["", f"**{title}**", ""] if title else []
        elif number not in taken:
            out.append(line)
    return "\n".join(out)


def _query_words(query: str) -> list[str]:
    return sorted({t for t in terms(query) if len(t) > 2}, key=len, reverse=True)


def highlight_line(line: str, words: list[str]) -> str:
    """A Markdown line with the query's words in bold, outside code spans and only in stretches that hold no
    emphasis, link, escape or HTML characters (where added asterisks could pair with the text's own)."""
    if not words or not line.strip():
        return line
    pattern = re.compile(r"(?<![\w.-])(" + "|".join(re.escape(w) for w in words) + r")[\w]*", re.I)
    out, pos = [], 0
    for span in [*_CODE_SPAN.finditer(line), None]:
        end = span.start() if span else len(line)
        stretch = line[pos:end]
        out.append(stretch if _UNSAFE.search(stretch) else pattern.sub(lambda m: f"**{m.group(0)}**", stretch))
        if span:
            out.append(span.group(0))
            pos = span.end()
    return "".join(out)


def passage_parts(text: str, query: str = "", heading: str = "",
                  limit: int = PASSAGE_CHARS) -> list[tuple[str | None, str]]:
    """A passage as what to show, in order: (None, Markdown made inert) or (language, code). Its first line is
    left out when it is the section heading the card already names; wrapped prose is joined, list items, chat
    messages and commands keep their lines; a cut passage ends with an ellipsis."""
    body = text.strip("\n")
    opening = markdown_lines(body).headings.get(0)
    if opening and heading and opening[0].lower() == heading.strip().lower():
        body = "\n".join(body.split("\n")[opening[1].stop :])
    shown, was_cut = cut(body, limit)
    words = _query_words(query)
    parts: list[tuple[str | None, str]] = []
    markdown = _headings_apart(shown)
    joined = quoted(markdown)
    lead = _LIST_MARKER.match(markdown.lstrip("\n"))
    if lead and not _LIST_MARKER.match(joined):  # the first list item keeps its marker, like the others
        joined = lead.group(1) + joined
    for language, part in quote_parts(joined):
        if language is not None:
            parts.append((language if _LANGUAGE.match(language) else "", part))
            continue
        lines = [highlight_line(line, words) for line in part.split("\n")]
        parts.append((None, inert("  \n".join(lines))))
    if was_cut:
        parts.append((None, "…"))
    return parts


def show_passage(container: Any, text: str, query: str = "", heading: str = "", limit: int = PASSAGE_CHARS) -> None:
    """Render a passage into a Streamlit container: its text as Markdown, its code blocks as code."""
    for language, part in passage_parts(text, query, heading, limit):
        if language is None:
            container.markdown(part)
        else:
            container.code(part, language=language or None)
