"""Passages as answer lines: wrapped prose joined, code blocks, chat messages, list items, table rows and
shell commands kept on lines of their own."""

from __future__ import annotations

import re

from kb.text.fences import Fences, Role
from kb.text.steps import CHAT_STAMP, CLI_NAMES

_OWN_LINE = re.compile(rf"^\s*({CHAT_STAMP}|[-*+] |\d+[.)] |\||\$ |# )")
_CHAT_LINE = re.compile(CHAT_STAMP)
_COMMAND_LINE = re.compile(rf"^\s*(?:\$ )?{CLI_NAMES}\s")
_LEAD_MARKER = re.compile(r"^(?:\d+[.)]|[-*+])[ \t]+(?=\S)")


#: the longest text quoted as one answer line
MAX_QUOTE_CHARS = 20_000


def quoted(text: str) -> str:
    """A passage as an answer line: wrapped prose joined into one line, but code blocks keep their lines
    (and fences); chat messages (with their pasted output), list items, table rows and shell commands
    (and a line after a trailing backslash) each keep a line of their own. A list marker at the very
    start goes (the answer numbers its lines itself)."""
    text = text[:MAX_QUOTE_CHARS]  # a passage is a few hundred words; more is not quoted
    out: list[list[str]] = []  # each line as parts, joined once at the end (+= on a long line is quadratic)
    fences = Fences()
    joinable = False
    chat = False  # from a chat message to the next blank line: never wrapped prose (pasted output stays)
    for raw in text.splitlines():
        chat = (chat or bool(_CHAT_LINE.match(raw))) and bool(raw.strip())
        line = raw.rstrip()
        role = fences.role(line)
        if role in (Role.OPEN, Role.CLOSE):
            out.append([line.strip()])
            joinable = False
        elif role is Role.CODE:
            out.append([line])
        elif not line.strip():
            joinable = False
        elif joinable and not chat and not _OWN_LINE.match(line) and not _COMMAND_LINE.match(line):
            out[-1].append(" " + " ".join(line.split()))
        else:
            out.append([line.strip() if chat else " ".join(line.split())])
            # a command (or a line continued with a backslash) is never wrapped prose: what follows starts anew
            continued = len(out) > 1 and out[-2][-1].endswith("\\")
            joinable = not _COMMAND_LINE.match(line) and not line.endswith("\\") and not continued
    return _LEAD_MARKER.sub("", "\n".join("".join(parts) for parts in out).strip(), count=1)


def quote_parts(text: str) -> list[tuple[str | None, str]]:
    """An answer line cut into its text and its code blocks, in order: (None, text) or (language, code)."""
    parts: list[tuple[str | None, str]] = []
    language: str | None = None  # inside a code block when not None
    lines: list[str] = []
    fences = Fences()
    for line in text.split("\n"):
        role = fences.role(line)
        if role in (Role.OPEN, Role.CLOSE):
            if lines:
                parts.append((language, "\n".join(lines)))
            language, lines = (fences.language if role is Role.OPEN else None), []
        else:
            lines.append(line)
    if lines:
        parts.append((language, "\n".join(lines)))
    return [(lang, body) for lang, body in parts if body.strip()]

