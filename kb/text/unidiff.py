"""Unified diffs of our own texts: written with difflib, applied strictly.

``make`` writes the diff between two texts (lines are split on ``\\n`` only, and a last line without a
newline is followed by ``\\ No newline at end of file``, as git and patch write it, so every text survives
the round trip). ``apply`` applies such a diff to a base text and accepts nothing but an exact fit: every
context and removed line must be the base's line at the position the hunk header states (no fuzz, no
offset), hunks come in order and hold the line counts their headers say. Anything else raises
``ProposalError``. Both run in time linear in the sizes of the texts.
"""

from __future__ import annotations

import difflib
import re

from kb.core.errors import ProposalError

#: A hunk header; lengths default to 1 (syntax only).
HUNK = re.compile(r"@@ -(\d{1,9})(?:,(\d{1,9}))? \+(\d{1,9})(?:,(\d{1,9}))? @@")
NO_NEWLINE = "\\ No newline at end of file"


def lines_of(text: str) -> list[str]:
    """The lines of a text, each with its ``\\n`` (the last one without, when the text has none)."""
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def make(old: str, new: str, name: str) -> str:
    """The unified diff from ``old`` to ``new`` (empty when they are equal), naming the file a/NAME, b/NAME."""
    out = []
    for line in difflib.unified_diff(lines_of(old), lines_of(new), f"a/{name}", f"b/{name}"):
        out.append(line if line.endswith("\n") else line + "\n" + NO_NEWLINE + "\n")
    return "".join(out)


def _start(number: int, length: int) -> int:
    """The 0-based line index a hunk range starts at (an empty range names the line before it)."""
    return number - 1 if length else number


def apply(base: str, diff: str) -> str:
    """``base`` with ``diff`` applied; raises ProposalError unless every hunk fits exactly where it says."""
    lines = lines_of(diff)
    if len(lines) < 3 or not lines[0].startswith("--- ") or not lines[1].startswith("+++ "):
        raise ProposalError("the diff does not apply: it is not a unified diff (no ---/+++ header)")
    source = lines_of(base)
    out: list[str] = []
    at = 0  # lines of the base consumed so far
    i, hunk = 2, 0
    while i < len(lines):
        header = HUNK.fullmatch(lines[i].rstrip("\n"))
        if header is None:
            raise ProposalError(f"the diff does not apply: line {i + 1} is not a hunk header")
        hunk += 1
        old_len = int(header[2]) if header[2] is not None else 1
        new_len = int(header[4]) if header[4] is not None else 1
        start = _start(int(header[1]), old_len)
        if start < at or start > len(source):
            raise ProposalError(f"the diff does not apply: hunk {hunk} starts at line {start + 1}, out of order or "
                                f"past the end of the base ({len(source)} lines)")
        out.extend(source[at:start])
        at = start
        if _start(int(header[3]), new_len) != len(out):
            raise ProposalError(f"the diff does not apply: hunk {hunk}'s new position does not follow from the old")
        i += 1
        old_seen = new_seen = 0
        while i < len(lines) and not lines[i].startswith("@@"):
            line = lines[i]
            tag, text = line[0], line[1:]
            if not line.endswith("\n"):
                raise ProposalError("the diff does not apply: it is cut short (its last line has no newline)")
            if i + 1 < len(lines) and lines[i + 1].rstrip("\n") == NO_NEWLINE:
                text = text[:-1]
                i += 1
            if tag in " -":
                if at >= len(source) or source[at] != text:
                    raise ProposalError(
                        f"the diff does not apply: hunk {hunk} expects {text.rstrip()[:80]!r} at line {at + 1} of "
                        "the base, which says "
                        + (repr(source[at].rstrip()[:80]) if at < len(source) else "nothing (the base is shorter)")
                    )
                at += 1
                old_seen += 1
                if tag == " ":
                    out.append(text)
                    new_seen += 1
            elif tag == "+":
                out.append(text)
                new_seen += 1
            else:
                raise ProposalError(f"the diff does not apply: line {i + 1} is neither context, removal nor addition")
            i += 1
        if (old_seen, new_seen) != (old_len, new_len):
            raise ProposalError(
                f"the diff does not apply: hunk {hunk} holds {old_seen}/{new_seen} old/new lines, its header says "
                f"{old_len}/{new_len}"
            )
    out.extend(source[at:])
    return "".join(out)
