"""Fenced code blocks as CommonMark reads them, for every module that walks text line by line.

A fence is three or more backticks or tildes. A backtick fence's info string holds no backtick, so a line of
inline code such as ```` ```kubectl get pods``` ```` is text, not the start of a block that swallows the rest
of the document. A block closes only at a line of the same character, at least as long, with nothing after
it; a block never closed runs to the end of the text.
"""

from __future__ import annotations

import re
from enum import Enum

_MARK = re.compile(r"^([ \t]*)(`{3,}|~{3,})(.*)$")


class Role(Enum):
    """What one line is to the code blocks around it."""

    TEXT = "text"
    OPEN = "open"  # the opening fence line
    CODE = "code"  # a line inside a block
    CLOSE = "close"  # the closing fence line


def opening_mark(line: str, max_indent: int | None = None) -> str | None:
    """The fence a line opens (its run of backticks or tildes), or None. ``max_indent`` limits the spaces
    before it (3 at the top level of a Markdown document; None for text whose container is unknown, such as
    a chat message or a list item cut out of its list)."""
    m = _MARK.match(line)
    if m is None or (max_indent is not None and len(m.group(1).expandtabs(4)) > max_indent):
        return None
    mark, info = m.group(2), m.group(3)
    if mark[0] == "`" and "`" in info:
        return None
    return mark


def closes(line: str, mark: str) -> bool:
    """Whether ``line`` closes a block opened by ``mark``."""
    m = _MARK.match(line)
    return m is not None and m.group(2)[0] == mark[0] and len(m.group(2)) >= len(mark) and not m.group(3).strip()


class Fences:
    """Walk a text's lines in order; ``role(line)`` says what each is. ``inside`` is true between an
    opening fence and its close."""

    def __init__(self, max_indent: int | None = None) -> None:
        self.max_indent = max_indent
        self.mark: str | None = None
        self.language = ""

    @property
    def inside(self) -> bool:
        return self.mark is not None

    def role(self, line: str) -> Role:
        if self.mark is not None:
            if closes(line, self.mark):
                self.mark = None
                return Role.CLOSE
            return Role.CODE
        mark = opening_mark(line, self.max_indent)
        if mark is None:
            return Role.TEXT
        self.mark = mark
        self.language = line.strip()[len(mark) :].strip().split(" ")[0] if line.strip() else ""
        return Role.OPEN


def has_fence(text: str) -> bool:
    """Whether any line of ``text`` opens a code block."""
    if "```" not in text and "~~~" not in text:
        return False
    return any(opening_mark(line) for line in text.split("\n"))


_BACKTICKS = re.compile(r"`+")


def code_spans(line: str) -> list[tuple[int, int]]:
    """The code spans of a line, in order: a run of backticks (not escaped) closed by the next run of the same
    length (CommonMark), found in one pass with a table of runs by length."""
    runs = []
    for m in _BACKTICKS.finditer(line):
        start, length = m.start(), m.end() - m.start()
        if start and line[start - 1] == "\\":  # an escaped backtick opens nothing
            start, length = start + 1, length - 1
        if length:
            runs.append((start, length))
    by_length: dict[int, list[int]] = {}
    for start, length in runs:
        by_length.setdefault(length, []).append(start)
    spans: list[tuple[int, int]] = []
    position: dict[int, int] = {}  # how far along each length's list the pairing has got
    covered = -1
    for start, length in runs:
        if start < covered:
            continue
        starts = by_length[length]
        k = position.get(length, 0)
        while k < len(starts) and starts[k] <= start:
            k += 1
        position[length] = k
        if k < len(starts):
            spans.append((start, starts[k] + length))
            covered = starts[k] + length
            position[length] = k + 1
    return spans
