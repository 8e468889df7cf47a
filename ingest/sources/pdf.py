"""PDF postmortems, text extracted per page with pypdf."""

from __future__ import annotations

import logging
from io import BytesIO
from pathlib import Path

from pypdf import PdfReader
from pypdf.errors import FileNotDecryptedError

from ingest.sources.base import ParseOptions, content_hash, read_bytes, redact_text
from ingest.sources.text import record_from_text
from kb.core.errors import EmptyDocument, ParseError
from kb.core.models import Record

EXTENSIONS = (".pdf",)
#: a postmortem is tens of pages; past this a PDF is refused before any page is read (pypdf caps
#: each stream's decompressed size itself, so a small file cannot inflate without limit)
MAX_PDF_PAGES = 2000

logging.getLogger("pypdf").setLevel(logging.ERROR)


def page_texts(path: Path, data: bytes) -> list[str]:
    """The text of each page, or a ParseError saying why there is none."""
    if not data.lstrip()[:5].startswith(b"%PDF"):
        raise ParseError(str(path), "not a PDF file (no %PDF header)")
    try:
        reader = PdfReader(BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                ok = bool(reader.decrypt(""))
            except Exception:  # unsupported encryption algorithms raise various errors
                ok = False
            if not ok:
                raise ParseError(str(path), "encrypted PDF: it needs a password; save an unencrypted copy")
        if len(reader.pages) > MAX_PDF_PAGES:
            raise ParseError(str(path), f"PDF has {len(reader.pages)} pages, over the {MAX_PDF_PAGES} page limit")
        texts = [(page.extract_text() or "") for page in reader.pages]
    except ParseError:
        raise
    except FileNotDecryptedError as exc:
        raise ParseError(str(path), "encrypted PDF: it needs a password; save an unencrypted copy") from exc
    except RecursionError as exc:
        raise ParseError(str(path), "corrupt PDF (object structure too deep)") from exc
    except Exception as exc:  # pypdf on hostile bytes raises many types (PdfReadError, KeyError, OverflowError...)
        raise ParseError(str(path), f"corrupt or truncated PDF ({type(exc).__name__}: {exc})") from exc
    if not texts:
        raise EmptyDocument(str(path), "PDF has no pages")
    if not any(t.strip() for t in texts):
        raise EmptyDocument(
            str(path), f"no extractable text on any of its {len(texts)} page(s): a scanned image? run OCR first"
        )
    return texts


def parse(path: Path, options: ParseOptions) -> list[Record]:
    """One record for one PDF; page start offsets are kept in front_matter['page_offsets']."""
    data = read_bytes(path, options)
    pages = page_texts(path, data)
    parts: list[str] = []
    offsets: list[int] = []
    redactions = 0
    position = 0
    for page in pages:
        redacted = redact_text(page.replace("\r\n", "\n").strip("\n"), options)
        redactions += redacted.total
        offsets.append(position)
        parts.append(redacted.text)
        position += len(redacted.text) + 2
    text = "\n\n".join(parts)
    record = record_from_text(path, text, content_hash(data, options), "pdf", redactions, options)
    record.front_matter["page_offsets"] = offsets
    return [record]
