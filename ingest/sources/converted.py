"""Documents written in another tool (Confluence, Google Docs, Word, Notion), converted to Markdown and then
read as the Markdown source reads a file: the same sections, chunking and metadata.

A converter gives Markdown text and the document's own metadata as front matter (title, date, owner,
tags, and whatever else the tool records); ``markdown_record`` does the rest.
"""

from __future__ import annotations

import re
from pathlib import Path

from bs4 import BeautifulSoup, Tag
from markdownify import MarkdownConverter

from ingest import extract
from ingest.sources.base import ParseOptions, content_hash, finish_record, redact_text, slug
from ingest.sources.markdown import sections_of
from kb.core.errors import EmptyDocument
from kb.core.models import Record


def _language(tag: Tag) -> str:
    """The language a code block declares: ``class="language-x"``, Confluence's ``brush: x``, ``data-language``."""
    for node in (tag, tag.find("code")):
        if not isinstance(node, Tag):
            continue
        for name in node.get_attribute_list("class"):
            if name and name.startswith(("language-", "lang-")):
                return name.split("-", 1)[1]
        brush = re.search(r"brush:\s*([\w+#-]+)", str(node.get("data-syntaxhighlighter-params") or ""))
        if brush:
            return brush.group(1)
        declared = node.get("data-language")
        if isinstance(declared, str) and re.fullmatch(r"[\w+#-]{1,30}", declared):
            return declared
    return ""


class _Converter(MarkdownConverter):  # type: ignore[misc]
    """markdownify, keeping what the text says and nothing that would be fetched: links become their text,
    images their alt text; headings as ``#`` lines; no backslashes before ``_`` or ``*`` in words, so
    ``idle_in_transaction`` is indexed as written."""

    def __init__(self) -> None:
        super().__init__(
            heading_style="ATX",
            bullets="-",
            strip=["a"],
            escape_underscores=False,
            escape_asterisks=False,
            escape_misc=False,
            table_infer_header=True,
            code_language_callback=_language,
        )

    def convert_img(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        alt = " ".join(str(el.get("alt") or "").split())
        return f"[image: {alt}]" if alt else ""


def to_markdown(root: Tag | BeautifulSoup) -> str:
    """Markdown for an HTML tree whose page chrome has been removed."""
    text = _Converter().convert_soup(root)
    text = re.sub(r"[ \t]+\n", "\n", str(text))
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def markdown_record(
    *,
    path: Path,
    data: bytes,
    body: str,
    front: dict[str, object],
    fmt: str,
    options: ParseOptions,
    record_id: str | None = None,
    data_hash: str | None = None,
) -> Record:
    """One record from converted Markdown, as the Markdown source makes one: redacted, sectioned at its
    headings, metadata from ``front`` first and the text second. A day written in a "Date:" line of the text
    ("Date: March 12, 2024") is the document's date before the day the tool last saved it. ``data_hash``: when
    more than the file's bytes make the record (a Notion page and its database row)."""
    if not body.strip():
        raise EmptyDocument(str(path), "no text in the document once converted")
    redacted = redact_text(body, options)
    text = redacted.text
    title, sections = sections_of(text)
    front = dict(front)
    labelled = extract.meta_line(text, "date", "incident date", "started")
    stated = extract.date_from_text(text) or extract.loose_date(labelled)
    when = stated or extract.loose_date(front.get("date")) or extract.parse_date(front.get("date"))
    if when:
        front["date"] = when.isoformat()
    else:
        front.pop("date", None)
    return finish_record(
        path=path,
        source_key=str(path),
        record_id=slug(record_id or path.stem),
        fmt=fmt,
        data_hash=data_hash or content_hash(data, options),
        text=text,
        sections=sections,
        front={k: v for k, v in front.items() if v not in (None, "", [])},
        title=title,
        redactions=redacted.total,
        options=options,
    )
