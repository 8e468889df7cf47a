"""What a chat message says in words, for judging and citing it: its lines that are words (not code blocks,
images or a bare link), the opening judged for its kind, and its first line as an exact span of the record.
Syntax only: what the words mean is judged elsewhere (``kb.retrieval.cues``)."""

from __future__ import annotations

import itertools
import re

from kb.core.models import Message, Record
from kb.text.fences import Fences, Role

#: a line run at a shell or database prompt ("$ kubectl ...", "orders=# SELECT ...")
PROMPT = re.compile(r"^(?:\$ |\w+=[#>] )")
#: characters of a message judged: what it says first, not the output pasted under it
JUDGED_CHARS = 240
#: characters of a message's first line cited as it (longer lines end at a sentence, clause or word)
MAX_LINE = 220


def first_line_span(record: Record, message: Message) -> tuple[int, int, str]:
    """The message's first line (shortened to a sentence when long) as an exact span of the record."""
    first = next(iter(_word_lines(message.text)), "")
    window = record.text[message.start : message.end]
    at = _line_offset(window, first) if first else -1
    if at < 0:
        return message.start, message.end, window
    start = message.start + at
    text = first
    if len(first) < 25 and "\n" in message.text:  # "pools:" - the line that follows says what
        second_end = record.text.find("\n", start + len(first) + 1)
        end = min(message.end, second_end if second_end > 0 else message.end)
        return start, end, " ".join(record.text[start:end].split())
    if len(text) > MAX_LINE:
        # end at a sentence or clause, else after a whole word: never mid-word
        cut = max(text.rfind(". ", 0, MAX_LINE), text.rfind("; ", 0, MAX_LINE))
        if cut <= MAX_LINE // 3:
            cut = max(text.rfind(", ", 0, MAX_LINE), text.rfind(" ", 0, MAX_LINE) - 1)
        text = text[: cut + 1].rstrip(" ,;:") if cut > 20 else text[:MAX_LINE]
    return start, start + len(text), text


def _line_offset(window: str, line: str) -> int:
    """Where ``line`` stands as a line of its own (after a quote mark), else its first occurrence: a short line
    (a link preview's author) also occurs in the speaker line above it."""
    lines = window.split("\n")
    offsets = itertools.accumulate((len(raw) + 1 for raw in lines), initial=0)
    own = (at + raw.index(line) for at, raw in zip(offsets, lines, strict=False) if raw.strip(" >") == line)
    return next(own, window.find(line))


def _word_lines(text: str) -> list[str]:
    """The message's lines that are words: not code blocks, images or lines that are only a link."""
    out: list[str] = []
    fences = Fences()
    for line in text.split("\n"):
        bare = line.strip()
        # a line of inline code (```x```) is code too, though it opens no block
        if fences.role(line) is not Role.TEXT or bare.startswith(("```", "~~~")):
            continue
        if not bare or bare.startswith("![") or _only_link(bare):
            continue
        out.append(bare)
    return out


def _only_link(line: str) -> bool:
    """A line that is one link and nothing else (syntax: it says nothing in words)."""
    return len(line.split()) == 1 and line.strip("<>").startswith(("http://", "https://"))


def judged_text(message: Message) -> str:
    """What a message says, as judged: its own lines, not code blocks, images or pasted output after them,
    then a command run at a prompt (the command is what was done). Empty when it says nothing in words."""
    said: list[str] = []
    for bare in _word_lines(message.text):
        if PROMPT.match(bare):
            said.append(bare)
            break
        if bare.startswith(("{", "[", "|", "E ")) and said:
            break
        said.append(bare)
        if sum(map(len, said)) >= JUDGED_CHARS:
            break
    return "; ".join(said)[:JUDGED_CHARS]
