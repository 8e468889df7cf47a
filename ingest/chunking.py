"""Chunks that follow section boundaries and keep their character offsets.

A section is cut into passages of about ``max_words`` words at paragraph (or, in chat logs, message)
boundaries; an over-long paragraph is cut at sentence ends, then at word boundaries. A chunk's text is
exactly ``record.text[start:end]``, so citations can point at it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

from kb.core.enums import SectionName
from kb.core.models import Chunk, Record

_PARAGRAPH = re.compile(r"\n[ \t]*\n")
# a list item starts at the newline just before it: the look-ahead does not cross lines, or each newline of
# a blank run would rescan the rest of the run (quadratic); pieces between are blank and dropped anyway
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9`\"'(\[])|\n(?=[^\S\n]*+(?:[-*+]|\d+[.)])\s)")
#: a run of more than 80 characters without a space (a base64 blob, a minified log line) counts as one word per
#: 80 characters, so it is cut like other text instead of becoming one passage of any size
_WORD = re.compile(r"\S{1,80}")
#: from the first to the last non-blank character (the greedy run backs off only over the trailing blanks)
_NON_BLANK = re.compile(r"\S(?:.*\S)?", re.S)


def _spans(text: str, start: int, end: int, separator: re.Pattern[str]) -> list[tuple[int, int]]:
    """Non-blank pieces of text[start:end] between separator matches, without their surrounding blanks."""
    bounds = [start]
    for match in separator.finditer(text, start, end):
        bounds.extend(match.span())
    bounds.append(end)
    out: list[tuple[int, int]] = []
    for a, b in zip(bounds[::2], bounds[1::2], strict=True):
        piece = _NON_BLANK.search(text, a, b)
        if piece:
            out.append(piece.span())
    return out


def _words(text: str, start: int, end: int) -> int:
    return len(_WORD.findall(text, start, end))


def _split_long(text: str, start: int, end: int, max_words: int) -> list[tuple[int, int]]:
    """Cut one over-long piece at sentence ends, and sentences at word boundaries."""
    pieces: list[tuple[int, int]] = []
    for a, b in _spans(text, start, end, _SENTENCE):
        if _words(text, a, b) <= max_words:
            pieces.append((a, b))
            continue
        pieces.extend(match.span() for match in _word_groups(max_words).finditer(text, a, b))
    return pieces


@functools.lru_cache(maxsize=8)
def _word_groups(max_words: int) -> re.Pattern[str]:
    """Runs of up to ``max_words`` words as ``_WORD`` counts them, in one scan: each repetition is greedy and
    nothing follows it, so the match never backtracks."""
    return re.compile(rf"\S{{1,80}}(?:\s*\S{{1,80}}){{0,{max_words - 1}}}")


def _pack(text: str, units: Sequence[tuple[int, int]], max_words: int) -> list[tuple[int, int]]:
    """Greedily join consecutive units into spans of at most ``max_words`` words."""
    spans: list[tuple[int, int]] = []
    cur_start: int | None = None
    cur_end = 0
    cur_words = 0
    for a, b in units:
        n = _words(text, a, b)
        if n > max_words:
            if cur_start is not None:
                spans.append((cur_start, cur_end))
                cur_start, cur_words = None, 0
            spans.extend(_pack(text, _split_long(text, a, b, max_words), max_words))
            continue
        if cur_start is not None and cur_words + n > max_words:
            spans.append((cur_start, cur_end))
            cur_start, cur_words = None, 0
        if cur_start is None:
            cur_start = a
        cur_end, cur_words = b, cur_words + n
    if cur_start is not None:
        spans.append((cur_start, cur_end))
    return spans


def _heading_like(piece: str) -> bool:
    """One short line that reads as a heading ("## Timeline (UTC)", "Timeline"), not as content."""
    line = piece.strip()
    if "\n" in line or not line:
        return False
    if line.startswith("#"):
        return True
    return len(line.split()) <= 6 and line[-1] not in ".:!?;,)`" and not line.startswith(("-", "*", "|"))


def _merge_headings(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """A span that is only a heading joins the span after it (a long first paragraph pushed it out alone)."""
    out: list[tuple[int, int]] = []
    carry: int | None = None
    for n, (a, b) in enumerate(spans):
        if carry is not None:
            a, carry = carry, None
        # a heading is a whole line: a word group cut from a long line is not one
        if n + 1 < len(spans) and "\n" in text[b : spans[n + 1][0]] and _heading_like(text[a:b]):
            carry = a
            continue
        out.append((a, b))
    return out


def chunk_spans(
    text: str, sections: Sequence[tuple[str, str, int, int]], max_words: int, boundaries: Sequence[tuple[int, int]] = ()
) -> list[tuple[str, str, int, int]]:
    """(section name, heading, start, end) of every chunk.

    ``boundaries`` (chat messages) replace paragraphs as the units to pack.
    """
    out: list[tuple[str, str, int, int]] = []
    for name, heading, s_start, s_end in sections:
        if boundaries:
            units = [(a, b) for a, b in boundaries if a >= s_start and b <= s_end and text[a:b].strip()]
        else:
            units = _spans(text, s_start, s_end, _PARAGRAPH)
        spans = _merge_headings(text, _pack(text, units, max_words))
        # a section that is only its heading adds nothing on its own
        if heading and len(spans) == 1 and text[spans[0][0] : spans[0][1]].strip(" #*\t:") == heading:
            continue
        out.extend((name, heading, a, b) for a, b in spans)
    return out


def chunk_record(record: Record, max_words: int) -> list[Chunk]:
    """The chunks of a record; ids carry a prefix of its content hash."""
    sections = [(s.name, s.heading, s.start, s.end) for s in record.sections] or [
        (SectionName.body, "", 0, len(record.text))
    ]
    boundaries = [(m.start, m.end) for m in record.messages]
    spans = chunk_spans(record.text, sections, max_words, boundaries)
    return [
        Chunk(
            id=f"{record.id}:{record.content_hash[:12]}:{i}",
            record_id=record.id,
            section=name,
            heading=heading,
            start=a,
            end=b,
            text=record.text[a:b],
        )
        for i, (name, heading, a, b) in enumerate(spans)
    ]


def embedding_text(record: Record, chunk: Chunk) -> str:
    """What the embedding model sees: the chunk with its document title and section heading."""
    heading = chunk.heading if chunk.heading and chunk.heading != record.title else ""
    return "\n".join(part for part in (record.title, heading, chunk.text) if part)
