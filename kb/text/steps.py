"""Steps, sentences and cues in document text: the raw material of extractive drafts.

Everything here returns character spans into a record's text, so each piece can be cited exactly.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from typing import NamedTuple

from kb.core.bounded import linear
from kb.text.analysis import analyze
from kb.text.fences import Fences, Role

_LIST_ITEM = re.compile(r"^ ?(?:\d+[.)]|[-*+])\s+(?:\[[ xX]\]\s+)?")  # top level; nested items stay inside
_HEADING = re.compile(r"^ {0,3}#{1,6}\s")
#: a Markdown link or image, its text in group 1 (syntax: "[text](url)", "![alt](src)")
LINK = re.compile(r"!?\[([^\]\n]*)\]\([^)\n]*\)")
#: a Markdown link reference definition, which defines a link target and is never shown (syntax: `[1]: https://x`,
#: `[runbook]: ./other.md "title"`); its target is a URL, a path or an anchor, so "[08:47]: alert fired" is not one
LINK_DEFINITION = re.compile(
    r"^ {0,3}\[[^\]\n]+\]:[ \t]*<?(?:[A-Za-z][A-Za-z0-9+.-]*://|/|\.{1,2}/|#)[^\s>]*>?"
    r"(?:[ \t]+(?:\"[^\"\n]*\"|'[^'\n]*'|\([^)\n]*\)))?[ \t]*$"
)
#: where a chat message starts: "[2025-01-08 10:22:45] name: ..."
CHAT_STAMP = r"\[\d{4}-\d\d-\d\d[ T]"
#: command-line tools whose lines are commands to run, not prose
CLI_NAMES = (r"(?:kubectl|helm|argocd|redis-cli|psql|curl|aws|gcloud|az|docker|git|vault|sudo|systemctl|journalctl"
             r"|cmctl|openssl|echo)")
# a sentence ends at . ! ? before a capital, and a chat message ends where the next one starts
# "(?<!\s)": white space before a message is matched from where it starts, not again from inside it
_SENTENCE_END = re.compile(rf"(?<=[.!?])\s+(?=[A-Z`\"'(])|(?<!\s)\s*\n(?={CHAT_STAMP})")
_MESSAGE_END = re.compile(rf"(?<!\s)\s*\n(?={CHAT_STAMP})")
_CHAT_START = re.compile(rf"\s*{CHAT_STAMP}")


class Span(NamedTuple):
    """A piece of a record's text: ``text == record.text[start:end]``. A tuple: a long document makes
    hundreds of thousands, and a frozen dataclass takes four times as long to make."""

    start: int
    end: int
    text: str


def opens_list_item(line: str) -> bool:
    """Whether a line opens a Markdown list item ("- ", "* ", "+ ", "1. ", "2) "), at any depth."""
    return _LIST_ITEM.match(line.lstrip()) is not None


def _lines(text: str, base: int) -> list[tuple[int, str]]:
    out, offset = [], base
    for line in text.splitlines(keepends=True):
        out.append((offset, line.rstrip("\n")))
        offset += len(line)
    return out


#: the most steps read from one text: a procedure has tens; a 1 MB text of one-line paragraphs has 250,000,
#: which took over a second to cut and that no draft reads
MAX_STEPS = 2000


def split_steps(text: str, base: int = 0) -> list[Span]:
    """Top-level list items (with their indented lines and the code block right after them), and
    paragraphs, as spans, the first ``MAX_STEPS`` of them. Headings and blank lines separate; tables and link
    reference definitions are left out."""
    steps: list[tuple[int, int]] = []
    current: list[int] | None = None  # [start, end]
    fences = Fences(max_indent=3)
    after_blank = False
    offset = base
    for raw in text.splitlines(keepends=True):
        if len(steps) == MAX_STEPS:
            current = None
            break
        line = raw.rstrip("\n")
        start, end, offset = offset, offset + len(line), offset + len(raw)
        stripped = line.lstrip()
        first = stripped[:1]  # each pattern below needs its own first character: most lines try none
        role = fences.role(line) if first in ("`", "~") or fences.inside else Role.TEXT
        if role in (Role.CODE, Role.CLOSE):
            if current is not None:
                current[1] = end
            continue
        if role is Role.OPEN:
            if current is None:
                current = [start, end]
            else:
                current[1] = end
            after_blank = False
            continue
        if not stripped:
            after_blank = True
            continue
        if first == "|" or (first == "#" and _HEADING.match(line)) or (first == "[" and LINK_DEFINITION.match(line)):
            if current is not None:
                steps.append((current[0], current[1]))
            current, after_blank = None, False
            continue
        list_item = (first in ("-", "*", "+") or first.isdigit()) and bool(_LIST_ITEM.match(line))
        if current is None or list_item or (after_blank and not line.startswith((" ", "\t"))):
            if current is not None:
                steps.append((current[0], current[1]))
            current = [start, end]
        else:
            current[1] = end
        after_blank = False
    if current is not None:
        steps.append((current[0], current[1]))
    spans = [Span(s, e, text[s - base : e - base]) for s, e in steps]
    return [span for span in spans if span.text and not span.text.isspace()]


_DUE = re.compile(r"\b(?:due|done)\b")
_TABLE_RULE = re.compile(r"^\s*+\|?\s*+:?-++:?\s*+(?:\|\s*+:?-++:?\s*+)*+\|?\s*$")  # possessive: linear


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


@dataclass(frozen=True)
class TableRow:
    """A body row of a Markdown table: its span, and the row read with its column names."""

    span: Span
    labelled: str  # "service: payments-gateway; owning team: Payments; ..."


def table_rows(text: str, base: int = 0) -> list[TableRow]:
    """The body rows of the Markdown tables in ``text`` (a header line, then a |---| rule, then rows)."""
    if "|" not in text:
        return []
    lines = _lines(text, base)
    rows: list[TableRow] = []
    header: list[str] | None = None
    for i, (offset, line) in enumerate(lines):
        if not line.lstrip().startswith("|"):
            header = None
            continue
        if _TABLE_RULE.match(line):
            header = _cells(lines[i - 1][1]) if i and lines[i - 1][1].lstrip().startswith("|") else None
            continue
        if header is None:
            continue
        cells = _cells(line)
        labelled = "; ".join(f"{h}: {c}" if h else c for h, c in zip(header, cells, strict=False) if c and c != "-")
        start = offset + len(line) - len(line.lstrip())
        rows.append(TableRow(Span(start, offset + len(line.rstrip()), line.strip()), labelled))
    return rows


def sentences(span: Span) -> list[Span]:
    """The sentences of a prose span (code blocks stay whole with the sentence before them); of chat
    lines, the messages."""
    text = span.text
    if "```" in text or "\n    " in text:
        return [span]
    out: list[Span] = []
    pos = 0
    # chat lines: a message is the unit (its own sentences would lose who said them and when)
    ends = _MESSAGE_END if _CHAT_START.match(text) else _SENTENCE_END
    for match in ends.finditer(text):
        piece = text[pos : match.start()]
        if piece.strip():
            lead = len(piece) - len(piece.lstrip())
            out.append(Span(span.start + pos + lead, span.start + match.start(), piece.strip()))
        pos = match.end()
    piece = text[pos:]
    if piece.strip():
        lead = len(piece) - len(piece.lstrip())
        out.append(Span(span.start + pos + lead, span.start + pos + len(piece.rstrip()), piece.strip()))
    return out


def shorten(text: str, width: int) -> str:
    """One line of at most ``width`` characters (plus an ellipsis when cut), cut after a whole word."""
    flat = " ".join(text.split())
    if len(flat) <= width:
        return flat
    cut = flat.rfind(" ", 0, width)
    return flat[: cut if cut > width // 2 else width].rstrip(" ,;:") + " …"


def clean_step(text: str) -> str:
    """A step as shown: list markers, checkboxes and owner/due notes removed, whitespace folded."""
    first, *rest = text.strip().split("\n", 1)
    first = _LIST_ITEM.sub("", first)
    shown = first + ("\n" + textwrap.dedent(rest[0]) if rest else "")
    return _drop_due_note(shown.strip()).strip()


def _drop_due_note(text: str) -> str:
    """``text`` without a closing "(owner, due Friday)" / "(done)" note. Not a pattern: "[^()]*" on both
    sides of the word would rescan the note from every position (quadratic)."""
    if not text.endswith(")"):
        return text
    start = text.rfind("(", 0, len(text) - 1)
    if start < 0 or ")" in text[start + 1 : -1] or not _DUE.search(text, start + 1, len(text) - 1):
        return text
    return text[:start].rstrip()


def terms_of(text: str) -> set[str]:
    """Analysed content terms (stemmed, identifiers split) for comparing pieces of text."""
    return {t for t in analyze(text) if len(t) > 1 and not t.isdigit()}


def similarity(a: set[str], b: set[str]) -> float:
    """Jaccard similarity of two term sets."""
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def containment(part: set[str], whole: set[str]) -> float:
    """Share of ``part``'s terms that ``whole`` also has."""
    if not part:
        return 0.0
    return len(part & whole) / len(part)


# -- cues ------------------------------------------------------------------------------------

CHANGE_COMMAND = linear(
    r"\b(rollout\s+(?:undo|restart)|rollback|roll back|scale|edit|apply|delete|drain|cordon|uncordon|"
    r"patch|set\s+\w+|reload|restart|terminate|pg_terminate_backend|failover|switchover|promote|"
    r"alter|kill|disable|enable|flush|purge|revert|helm\s+(?:upgrade|rollback)|argocd\s+app\s+(?:sync|rollback))\b",
)
COMMAND_LINE = re.compile(
    r"(^|\n)[^\S\n]*+(\$ |kubectl |psql |redis-cli |curl |helm |argocd |aws |gcloud |SELECT |ALTER )"
)
CAUTION = re.compile(r"(?:^|: )(never|do not|don't|must not|avoid)\b", re.I)
CHECK_FIRST = re.compile(r"(?:^|: )(before\b|always\b|check\b|first,|the first (?:step|question)\b)", re.I)
RUNBOOK_MENTION = re.compile(r"\b(runbook|playbook)\b", re.I)


def has_command(text: str) -> bool:
    return bool(COMMAND_LINE.search(text) or "```" in text or re.search(r"`[^`]{6,}`", text))


_CLI = re.compile(rf"(?:^|\$ |`)[^\S\n]*+({CLI_NAMES}\b[^`\n]*)", re.M)  # on its own line: linear
_SCOPE_FLAGS = {"-n", "--namespace", "--context", "-c", "--container", "-l", "--selector", "-h", "--host", "-p", "-U"}
_KINDS = {"deployment": "deploy", "deployments": "deploy", "statefulset": "sts", "statefulsets": "sts",
          "daemonset": "ds", "daemonsets": "ds", "service": "svc", "services": "svc", "pods": "pod", "nodes": "node"}


def command_shapes(text: str) -> set[str]:
    """The commands in a text reduced to what they do: where they run (namespace, context, host, port) and
    resource-kind spellings set aside, so "kubectl -n identity rollout restart deployment/auth" and
    "kubectl -n auth rollout restart deploy/auth" are the same command."""
    shapes = set()
    for match in _CLI.finditer(text):
        words = match.group(1).split()
        kept: list[str] = []
        skip = False
        for word in words:
            if skip:
                skip = False
                continue
            if word in _SCOPE_FLAGS:
                skip = True
                continue
            if word.startswith(("--namespace=", "--context=", "-n=")):
                continue
            kind, slash, name = word.partition("/")
            kept.append(_KINDS.get(kind.lower(), kind.lower()) + slash + name)
        shapes.add(" ".join(kept))
    return shapes


def is_change(text: str) -> bool:
    """Does the step change the system (mitigation) rather than look at it (diagnosis)?"""
    return bool(CHANGE_COMMAND.search(text))
