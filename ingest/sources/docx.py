"""Word documents (.docx, also what Google Docs' "Download -> Microsoft Word" writes): mammoth turns the
document into HTML (headings, lists, tables; paragraphs in a code style become code blocks), which then
takes the HTML path (``html_page``) into Markdown. Title, author, dates and keywords come from the
document's properties (docProps/core.xml).

A .docx is a zip of XML parts, so it is checked before anything unpacks it: the number of parts, each
part's unpacked size and compression ratio (a zip bomb) and the total are bounded by the file size limit,
and an XML part that declares a DOCTYPE (entities, external or not) is refused. Images are never read
(only their alt text is kept) and linked files are never fetched.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from pathlib import Path
from xml.etree import ElementTree
from xml.parsers.expat import ExpatError

import mammoth

from ingest.sources.base import ParseOptions, read_bytes
from ingest.sources.converted import markdown_record
from ingest.sources.html_page import convert
from ingest.uploads import BOMB_FLOOR, MAX_RATIO
from kb.core.errors import EmptyDocument, ParseError
from kb.core.models import Record

EXTENSIONS = (".docx",)
#: far more parts than a document has (a long report with images has a few hundred)
MAX_PARTS = 2000
#: paragraph styles that hold code in Word and Google Docs exports, shown as code blocks
CODE_STYLES = ("Code", "Code Block", "Source Code", "HTML Preformatted", "Preformatted Text", "Plain Text")
_STYLE_MAP = "\n".join(
    [f"p[style-name='{name}'] => pre:separator('\\n')" for name in CODE_STYLES]
    + ["p[style-name='Title'] => h1:fresh", "p[style-name='Subtitle'] => p.subtitle:fresh"]
)
#: what reading a damaged or hostile zip and its XML raises (bad headers, CRC, truncated streams, bad UTF-8
#: names, broken XML, a part that is missing)
_DAMAGED = (zipfile.BadZipFile, zlib.error, OSError, ValueError, KeyError, EOFError, RuntimeError, ExpatError)
_CORE = {
    "title": "{http://purl.org/dc/elements/1.1/}title",
    "author": "{http://purl.org/dc/elements/1.1/}creator",
    "subject": "{http://purl.org/dc/elements/1.1/}subject",
    "description": "{http://purl.org/dc/elements/1.1/}description",
    "keywords": "{http://schemas.openxmlformats.org/package/2006/metadata/core-properties}keywords",
    "category": "{http://schemas.openxmlformats.org/package/2006/metadata/core-properties}category",
    "last_modified_by": "{http://schemas.openxmlformats.org/package/2006/metadata/core-properties}lastModifiedBy",
    "created": "{http://purl.org/dc/terms/}created",
    "modified": "{http://purl.org/dc/terms/}modified",
}


def parse(path: Path, options: ParseOptions) -> list[Record]:
    """One record for one Word document."""
    data = read_bytes(path, options)
    archive = _checked_archive(path, data, options)
    front = _properties(path, archive)
    try:
        result = mammoth.convert_to_html(
            io.BytesIO(data),
            style_map=_STYLE_MAP,
            convert_image=mammoth.images.img_element(lambda image: {}),
            include_embedded_style_map=False,
        )
    except _DAMAGED as exc:
        raise ParseError(str(path), f"not a readable Word document ({type(exc).__name__}: {exc})") from exc
    try:
        body, _found, _fmt = convert(path, f"<html><body>{result.value}</body></html>")
    except EmptyDocument as exc:
        raise EmptyDocument(str(path), "no text in this Word document") from exc
    return [markdown_record(path=path, data=data, body=body, front=front, fmt="docx", options=options)]


def _checked_archive(path: Path, data: bytes, options: ParseOptions) -> zipfile.ZipFile:
    """The document's zip once every part is within bounds and no XML part declares a DOCTYPE."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        parts = archive.infolist()
    except _DAMAGED as exc:
        raise ParseError(str(path), f"not a Word document: not a readable zip archive ({exc})") from exc
    names = {part.filename for part in parts}
    if "word/document.xml" not in names and not any(n.endswith("document.xml") for n in names):
        why = "not a Word document: the zip holds no word/document.xml (an old .doc? save it as .docx)"
        raise ParseError(str(path), why)
    if len(parts) > MAX_PARTS:
        raise ParseError(str(path), f"more than {MAX_PARTS} parts in the document")
    total = 0
    for part in parts:
        packed = max(1, part.compress_size)
        if part.file_size > BOMB_FLOOR and part.file_size > MAX_RATIO * packed:
            raise ParseError(str(path), f"{part.filename}: compression ratio {part.file_size // packed}:1, a zip bomb")
        if part.flag_bits & 0x1:
            raise ParseError(str(path), "encrypted: it needs a password; save it again without one")
        total += part.file_size
        if part.file_size > options.max_bytes or total > options.max_bytes * 4:
            raise ParseError(str(path), f"{part.filename}: too large once unpacked (KB_MAX_FILE_MB)")
    for part in parts:
        if part.filename.endswith((".xml", ".rels")):
            try:
                head = archive.read(part)  # at most its declared size, checked above; zipfile checks the CRC
            except _DAMAGED as exc:
                raise ParseError(str(path), f"{part.filename}: damaged ({type(exc).__name__}: {exc})") from exc
            if re.search(rb"<!(DOCTYPE|ENTITY)", head, re.I):
                raise ParseError(str(path), f"{part.filename}: declares a DOCTYPE or entities; not read")
    return archive


def _properties(path: Path, archive: zipfile.ZipFile) -> dict[str, object]:
    """Title, author, dates and keywords from docProps/core.xml (absent or unreadable: none)."""
    try:
        root = ElementTree.fromstring(archive.read("docProps/core.xml"))  # noqa: S314 - no DOCTYPE: checked above
    except (KeyError, ElementTree.ParseError, zipfile.BadZipFile, OSError):
        return {}
    found = {key: " ".join((root.findtext(tag) or "").split()) for key, tag in _CORE.items()}
    front: dict[str, object] = {key: value for key, value in found.items() if value}
    if found["author"]:
        front["owner"] = found["author"]
    if found["keywords"]:
        front["tags"] = [k.strip() for k in re.split(r"[,;]", found["keywords"]) if k.strip()]
    if found["modified"] or found["created"]:
        front["date"] = (found["created"] or found["modified"])[:10]
    return front
