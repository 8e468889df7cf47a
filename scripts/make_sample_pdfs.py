#!/usr/bin/env python3
"""Render the sample PDF postmortems from their Markdown sources.

Every ``*.md`` file in ``scripts/pdf_sources/`` is rendered to
``data/postmortems/<same stem>.pdf``. The script uses only the Python standard
library: it contains its own minimal PDF 1.4 writer that uses the base-14
fonts Helvetica, Helvetica-Bold and Courier with WinAnsiEncoding, so no fonts
are embedded and the output is small, deterministic and easy to inspect.

Layout rules:

* YAML front matter is rendered as ``Key: value`` lines at the top of the
  first page (``Title: ...``, ``Date: ...``, ``Severity: ...``,
  ``Services: ...``, ...), followed by the ``#`` title of the document.
* ``#`` headings use the "title" style, ``##``/``###`` headings the
  "heading" style; every heading is on a line of its own.
* Paragraphs and list items are word-wrapped in Helvetica, fenced code blocks
  are set in Courier and wrapped only when a line is too long for the page.

The two functions :func:`pdf_bytes` and :func:`markdown_to_pdf` are reusable
(the tests import them).

Usage::

    python3 scripts/make_sample_pdfs.py [--sources DIR] [--out DIR]
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

# --------------------------------------------------------------------------
# Page geometry and styles
# --------------------------------------------------------------------------

PAGE_WIDTH = 595.28  # A4, in points
PAGE_HEIGHT = 841.89
MARGIN_LEFT = 56.0
MARGIN_RIGHT = 56.0
MARGIN_TOP = 60.0
MARGIN_BOTTOM = 60.0
TEXT_WIDTH = PAGE_WIDTH - MARGIN_LEFT - MARGIN_RIGHT
TEXT_HEIGHT = PAGE_HEIGHT - MARGIN_TOP - MARGIN_BOTTOM

# style -> (font resource name, font size, line height)
STYLES: dict[str, tuple[str, float, float]] = {
    "title": ("F2", 17.0, 23.0),
    "heading": ("F2", 12.5, 19.0),
    "body": ("F1", 10.0, 13.5),
    "code": ("F3", 8.5, 11.0),
}

# resource name -> base-14 font name
FONTS: dict[str, str] = {
    "F1": "Helvetica",
    "F2": "Helvetica-Bold",
    "F3": "Courier",
}

# Glyph widths (1/1000 em) of the printable ASCII range 32..126, from the
# Adobe font metrics of the base-14 fonts. Courier is monospaced (600).
_HELVETICA_WIDTHS = (
    "278 278 355 556 556 889 667 191 333 333 389 584 278 333 278 278 "
    "556 556 556 556 556 556 556 556 556 556 278 278 584 584 584 556 "
    "1015 667 667 722 722 667 611 778 722 278 500 667 556 833 722 778 "
    "667 778 722 667 611 722 667 944 667 667 611 278 278 278 469 556 "
    "333 556 556 500 556 556 278 556 556 222 222 500 222 833 556 556 "
    "556 556 333 500 278 556 500 722 500 500 500 334 260 334 584"
)
_HELVETICA_BOLD_WIDTHS = (
    "278 333 474 556 556 889 722 238 333 333 389 584 278 333 278 278 "
    "556 556 556 556 556 556 556 556 556 556 333 333 584 584 584 611 "
    "975 722 722 722 722 667 611 778 722 278 556 722 611 833 722 778 "
    "667 778 722 667 611 722 667 944 667 667 611 333 278 333 584 556 "
    "333 556 611 556 611 556 333 611 611 278 278 556 278 889 611 611 "
    "611 611 389 556 333 611 556 778 556 556 500 389 280 389 584"
)


def _width_table(spec: str) -> dict[str, int]:
    values = [int(v) for v in spec.split()]
    assert len(values) == 95, len(values)
    return {chr(32 + i): w for i, w in enumerate(values)}


_WIDTHS: dict[str, dict[str, int]] = {
    "F1": _width_table(_HELVETICA_WIDTHS),
    "F2": _width_table(_HELVETICA_BOLD_WIDTHS),
}
# Width used for Latin-1 characters above 126 (accented letters etc.).
_DEFAULT_WIDTH = {"F1": 600, "F2": 650, "F3": 600}

# --------------------------------------------------------------------------
# Text handling
# --------------------------------------------------------------------------

# Typographic characters outside Latin-1 that have a sensible ASCII form.
_ASCII_REPLACEMENTS = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u2032": "'",
    "\u2033": '"',
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\u2015": "-",
    "\u2212": "-",
    "\u2026": "...",
    "\u2022": "*",
    "\u00b7": "*",
    "\u2192": "->",
    "\u2190": "<-",
    "\u21d2": "=>",
    "\u2264": "<=",
    "\u2265": ">=",
    "\u2248": "~",
    "\u00a0": " ",
    "\u2009": " ",
    "\u202f": " ",
    "\u200b": "",
    "\u20ac": "EUR",
    "\u2122": "(TM)",
    "\u2713": "x",
    "\u2714": "x",
    "\u2717": "x",
    "\t": "    ",
}


def winansi_text(text: str) -> str:
    """Return ``text`` restricted to characters that WinAnsiEncoding can show.

    Common typographic characters (curly quotes, dashes, ellipsis, arrows, the
    euro sign) become ASCII; any other character outside printable Latin-1
    (including C0/C1 control characters) becomes ``?``.
    """
    out = []
    for ch in text:
        ch = _ASCII_REPLACEMENTS.get(ch, ch)
        for c in ch:
            code = ord(c)
            if 32 <= code <= 126 or 160 <= code <= 255:
                out.append(c)
            else:
                out.append("?")
    return "".join(out)


def _pdf_string(text: str) -> str:
    """Encode ``text`` as the body of a PDF literal string ``( ... )``.

    ``\\``, ``(`` and ``)`` are escaped; bytes outside printable ASCII are
    written as octal escapes, so the content stream itself stays ASCII.
    """
    parts = []
    for byte in winansi_text(text).encode("latin-1"):
        if byte in (0x5C, 0x28, 0x29):  # \ ( )
            parts.append("\\" + chr(byte))
        elif 32 <= byte <= 126:
            parts.append(chr(byte))
        else:
            parts.append(f"\\{byte:03o}")
    return "".join(parts)


def text_width(text: str, style: str) -> float:
    """Width in points of ``text`` set in ``style`` (one of :data:`STYLES`)."""
    font, size, _ = STYLES[style]
    text = winansi_text(text)
    if font == "F3":
        return len(text) * 600 * size / 1000.0
    table = _WIDTHS[font]
    default = _DEFAULT_WIDTH[font]
    return sum(table.get(c, default) for c in text) * size / 1000.0


def _split_indent(text: str) -> tuple[int, str]:
    stripped = text.lstrip(" ")
    return len(text) - len(stripped), stripped


def wrap_text(text: str, style: str, width: float = TEXT_WIDTH, indent: str = "", first_indent: str = "") -> list[str]:
    """Greedy word wrap of ``text`` to ``width`` points in ``style``.

    The first line starts with ``first_indent``, continuation lines with
    ``indent`` (leading spaces, which :func:`pdf_bytes` turns into a left
    offset). Words longer than a whole line are broken between characters.
    """
    words = text.split()
    if not words:
        return [""]
    lines: list[str] = []
    current = ""
    for word in words:
        prefix = indent if lines else first_indent
        candidate = f"{current} {word}" if current else prefix + word
        if text_width(candidate, style) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
            current = ""
        prefix = indent if lines else first_indent
        # the word alone may still be too long: break it
        piece = prefix
        for ch in word:
            if text_width(piece + ch, style) > width and piece.strip():
                lines.append(piece)
                piece = indent
            piece += ch
        current = piece
    if current:
        lines.append(current)
    return lines


def _wrap_code(line: str, style: str = "code", width: float = TEXT_WIDTH) -> list[str]:
    """Wrap one line of code to the page width, preferring breaks at spaces."""
    _font, size, _ = STYLES[style]
    max_chars = max(20, int(width / (0.6 * size)))
    out: list[str] = []
    indent = " " * min(len(line) - len(line.lstrip(" ")) + 2, max_chars // 2)
    rest = line
    while len(rest) > max_chars:
        cut = rest.rfind(" ", len(indent) + 1 if out else 1, max_chars)
        if cut <= max_chars // 3:
            cut = max_chars
        out.append(rest[:cut].rstrip())
        rest = indent + rest[cut:].lstrip(" ")
    out.append(rest)
    return out


# --------------------------------------------------------------------------
# PDF writer
# --------------------------------------------------------------------------


def _num(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def _line_height(style: str, text: str) -> float:
    """Vertical space taken by one line; an empty line is a half-height gap."""
    leading = STYLES[style][2]
    return leading / 2.0 if not text.strip() else leading


def _content_stream(lines: list[tuple[str, str]]) -> bytes:
    ops = []
    y = PAGE_HEIGHT - MARGIN_TOP
    for style, text in lines:
        if style not in STYLES:
            raise ValueError(f"unknown style {style!r}; expected one of {sorted(STYLES)}")
        font, size, leading = STYLES[style]
        if not text.strip():
            y -= leading / 2.0
            continue
        x = MARGIN_LEFT
        if style != "code":
            spaces, text = _split_indent(text)
            x += spaces * text_width(" ", style)
        baseline = y - size
        ops.append(
            f"BT /{font} {_num(size)} Tf 1 0 0 1 {_num(x)} {_num(baseline)} Tm ({_pdf_string(text.rstrip())}) Tj ET"
        )
        y -= leading
    return ("\n".join(ops) + "\n").encode("latin-1")


def _info_dict(info: dict[str, str] | None) -> str:
    entries = {"Producer": "Brightcart make_sample_pdfs"}
    entries.update(info or {})
    return "<< " + " ".join(f"/{k} ({_pdf_string(v)})" for k, v in entries.items()) + " >>"


def pdf_bytes(pages: list[list[tuple[str, str]]], *, info: dict[str, str] | None = None) -> bytes:
    """Build a complete PDF document and return its bytes.

    ``pages`` is a list of pages; each page is a list of ``(style, text)``
    lines drawn top to bottom, where ``style`` is one of ``"title"``,
    ``"heading"``, ``"body"`` (Helvetica / Helvetica-Bold) or ``"code"``
    (Courier). Lines are placed as given - wrap and paginate beforehand (see
    :func:`markdown_to_pdf`). An empty text is a half-line vertical gap;
    leading spaces of a non-code line indent it. Text is made WinAnsi-safe
    (see :func:`winansi_text`) and ``\\``, ``(``, ``)`` are escaped.

    ``info`` optionally fills the document information dictionary (e.g.
    ``{"Title": ..., "Author": ...}``). The output is deterministic: no
    timestamps are added unless given in ``info``. An empty ``pages`` list
    yields a single blank page. Raises ``ValueError`` for an unknown style.
    """
    pages = list(pages) or [[]]
    objects: list[bytes] = []  # object number i + 1 -> body

    def add(body: bytes | str) -> int:
        objects.append(body.encode("latin-1") if isinstance(body, str) else body)
        return len(objects)

    catalog = add("")  # filled in below
    pages_obj = add("")
    font_refs = {}
    for name, base in FONTS.items():
        font_refs[name] = add(f"<< /Type /Font /Subtype /Type1 /BaseFont /{base} /Encoding /WinAnsiEncoding >>")
    info_obj = add(_info_dict(info))
    resources = "<< /Font << " + " ".join(f"/{n} {r} 0 R" for n, r in font_refs.items()) + " >> >>"

    kids = []
    for page in pages:
        stream = _content_stream(page)
        content = add(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"endstream")
        kids.append(
            add(
                f"<< /Type /Page /Parent {pages_obj} 0 R "
                f"/MediaBox [0 0 {_num(PAGE_WIDTH)} {_num(PAGE_HEIGHT)}] "
                f"/Resources {resources} /Contents {content} 0 R >>"
            )
        )
    objects[catalog - 1] = f"<< /Type /Catalog /Pages {pages_obj} 0 R >>".encode("latin-1")
    objects[pages_obj - 1] = (
        f"<< /Type /Pages /Kids [{' '.join(f'{k} 0 R' for k in kids)}] /Count {len(kids)} >>"
    ).encode("latin-1")

    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref_at = len(out)
    out += b"xref\n0 %d\n" % (len(objects) + 1)
    out += b"0000000000 65535 f \n"
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root {catalog} 0 R /Info {info_obj} 0 R >>\n"
        f"startxref\n{xref_at}\n%%EOF\n"
    ).encode("latin-1")
    return bytes(out)


# --------------------------------------------------------------------------
# Markdown to lines
# --------------------------------------------------------------------------

_FRONT_MATTER_ORDER = ["title", "date", "severity", "services"]
_LIST_ITEM = re.compile(r"^(\s*)([-*+]|\d+[.)])\s+(\[[ xX]\]\s+)?")
_META_LINE = re.compile(r"^\*\*[^*]+:\*\*")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")


def parse_front_matter(markdown_text: str) -> tuple[dict[str, str], str]:
    """Split ``markdown_text`` into (front matter dict, body).

    Only the simple YAML subset used by the postmortems is understood:
    ``key: value`` and ``key: [a, b]`` (rendered as ``"a, b"``). Text without
    a leading ``---`` block returns an empty dict and the text unchanged.
    """
    lines = markdown_text.splitlines()
    if not lines or lines[0].strip() != "---":
        return {}, markdown_text
    for end in range(1, len(lines)):
        if lines[end].strip() == "---":
            break
    else:
        return {}, markdown_text
    meta: dict[str, str] = {}
    for line in lines[1:end]:
        if ":" not in line or line.lstrip().startswith("#"):
            continue
        key, value = line.split(":", 1)
        value = value.strip()
        if value.startswith("[") and value.endswith("]"):
            value = ", ".join(v.strip().strip("'\"") for v in value[1:-1].split(",") if v.strip())
        else:
            value = value.strip("'\"")
        meta[key.strip()] = value
    return meta, "\n".join(lines[end + 1 :])


def _inline(text: str) -> str:
    """Strip inline Markdown markup that has no meaning in the PDF."""
    text = _LINK.sub(r"\1 (\2)", text)
    text = text.replace("**", "").replace("`", "")
    return text


def _first_h1(body: str) -> str | None:
    """Text of the first ``# heading`` outside fenced code, or None."""
    in_code = False
    for line in body.splitlines():
        if line.lstrip().startswith("```"):
            in_code = not in_code
        elif not in_code and re.match(r"^#\s+\S", line):
            return _inline(line[1:].strip())
    return None


def _label(key: str) -> str:
    return key.replace("_", " ").replace("-", " ").strip().capitalize()


def markdown_lines(markdown_text: str) -> list[tuple[str, str]]:
    """Turn a Markdown postmortem into wrapped ``(style, text)`` lines.

    Front matter becomes ``Key: value`` lines at the top (Title, Date,
    Severity, Services first, then the remaining keys in file order),
    followed by the document itself, whose ``#`` heading is the big title.
    The result is not yet split into pages.
    """
    meta, body = parse_front_matter(markdown_text)
    out: list[tuple[str, str]] = []

    def gap() -> None:
        if out and out[-1][1].strip():
            out.append(("body", ""))

    def emit(style: str, text: str, indent: str = "") -> None:
        for line in wrap_text(text, style, indent=indent):
            out.append((style, line))

    title = meta.get("title", "")
    if meta:
        keys = [k for k in _FRONT_MATTER_ORDER if k in meta]
        keys += [k for k in meta if k not in keys]
        for key in keys:
            emit("body", f"{_label(key)}: {meta[key]}", indent="    ")
        gap()
        if title and _first_h1(body) is None:
            emit("title", winansi_text(title))  # no "# heading" in the body

    paragraph: list[str] = []
    item_first = ""  # indent of the first line of a list item
    item_indent = ""  # indent of its continuation lines

    def flush() -> None:
        nonlocal paragraph, item_first, item_indent
        if paragraph:
            text = _inline(" ".join(paragraph))
            for line in wrap_text(text, "body", indent=item_indent, first_indent=item_first):
                out.append(("body", line))
        paragraph = []
        item_first = item_indent = ""

    in_code = False
    for raw in body.splitlines():
        line = raw.rstrip()
        if line.lstrip().startswith("```"):
            flush()
            if not in_code:
                gap()
            else:
                out.append(("body", ""))
            in_code = not in_code
            continue
        if in_code:
            for piece in _wrap_code(line.replace("\t", "    ")):
                out.append(("code", piece))
            continue
        stripped = line.strip()
        if not stripped:
            flush()
            gap()
            continue
        heading = re.match(r"^(#{1,6})\s+(.*)$", stripped)
        if heading:
            flush()
            text = _inline(heading.group(2).strip())
            if len(heading.group(1)) == 1:
                gap()
                emit("title", text)
            else:
                gap()
                out.append(("body", ""))
                emit("heading", text)
            continue
        item = _LIST_ITEM.match(line)
        if item or _META_LINE.match(stripped):
            flush()
            if item:
                marker = item.group(2) + " " + (item.group(3) or "")
                nesting = " " * (2 * (len(item.group(1)) // 2))
                hang = text_width(nesting + marker, "body") / text_width(" ", "body")
                paragraph = [marker + line[item.end() :]]
                item_first = nesting
                item_indent = " " * round(hang)
            else:
                paragraph = [stripped]
            continue
        paragraph.append(stripped)
    flush()
    while out and not out[-1][1].strip():
        out.pop()
    return out


KEEP_CODE_LINES = 15  # code blocks up to this many lines are kept on one page


def paginate(lines: list[tuple[str, str]], height: float = TEXT_HEIGHT) -> list[list[tuple[str, str]]]:
    """Split lines into pages that fit ``height`` points.

    Headings are kept with the two lines after them, code blocks of up to
    :data:`KEEP_CODE_LINES` lines are not split, and gaps at the top of a
    page are dropped.
    """

    def code_block(start: int) -> float:
        """Height of the short code block starting at ``start`` (0 if none)."""
        if lines[start][0] != "code" or (start and lines[start - 1][0] == "code"):
            return 0.0
        end = start
        while end < len(lines) and lines[end][0] == "code":
            end += 1
        if end - start > KEEP_CODE_LINES:
            return 0.0
        return sum(_line_height(s, t) for s, t in lines[start:end])

    pages: list[list[tuple[str, str]]] = [[]]
    used = 0.0
    for index, (style, text) in enumerate(lines):
        needed = _line_height(style, text)
        if style in ("title", "heading"):
            nxt = index + 1
            while nxt < len(lines) and not lines[nxt][1].strip():
                nxt += 1
            gaps = sum(_line_height(s, t) for s, t in lines[index + 1 : nxt])
            block = code_block(nxt) if nxt < len(lines) else 0.0
            following = sum(_line_height(s, t) for s, t in lines[nxt : nxt + 2])
            needed += gaps + max(block, following)
        elif style == "code":
            needed = max(needed, code_block(index))
        if used + needed > height and pages[-1]:
            pages.append([])
            used = 0.0
        if not pages[-1] and not text.strip():
            continue
        pages[-1].append((style, text))
        used += _line_height(style, text)
    return pages


def markdown_to_pdf(markdown_text: str) -> bytes:
    """Render a Markdown postmortem (front matter optional) to PDF bytes.

    Front matter is shown as ``Title: ...``, ``Date: ...``, ``Severity: ...``,
    ``Services: ...`` lines (then the other keys) at the top of page one;
    ``#`` and ``##`` headings are bold and larger, each on its own line;
    paragraphs and list items are word-wrapped; fenced code is set in Courier.
    """
    meta, body = parse_front_matter(markdown_text)
    info: dict[str, str] = {}
    title = meta.get("title")
    if not title:
        title = _first_h1(body) or ""
    if title:
        info["Title"] = title
    if meta.get("owner"):
        info["Author"] = meta["owner"]
    if meta.get("kind"):
        info["Subject"] = meta["kind"]
    date = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", meta.get("date", ""))
    if date:
        info["CreationDate"] = "D:{}{}{}120000Z".format(*date.groups())
    return pdf_bytes(paginate(markdown_lines(markdown_text)), info=info)


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------

_SCRIPTS_DIR = Path(__file__).resolve().parent
DEFAULT_SOURCES = _SCRIPTS_DIR / "pdf_sources"
DEFAULT_OUT = _SCRIPTS_DIR.parent / "data" / "postmortems"


def main(argv: list[str] | None = None) -> int:
    """Render every ``*.md`` in ``--sources`` to ``--out/<stem>.pdf``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sources",
        type=Path,
        default=DEFAULT_SOURCES,
        help=f"directory of Markdown sources (default: {DEFAULT_SOURCES})",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"output directory for the PDFs (default: {DEFAULT_OUT})"
    )
    args = parser.parse_args(argv)

    sources = sorted(args.sources.glob("*.md"))
    if not sources:
        print(f"no Markdown sources in {args.sources}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    for source in sources:
        data = markdown_to_pdf(source.read_text(encoding="utf-8"))
        target = args.out / f"{source.stem}.pdf"
        target.write_bytes(data)
        print(f"{source.name} -> {target} ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
