"""The records the whole product passes around: documents, chunks, hits and ranked results.

Every object a shell shows or a later step consumes is one of these pydantic models, so the
JSON a script reads (``--json``) is the model's own serialisation.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, Field


class Kind(StrEnum):
    """What a document is; decides which sections are expected and how it is chunked."""

    postmortem = "postmortem"
    runbook = "runbook"
    chat = "chat"
    document = "document"


class Section(BaseModel):
    """A titled span of a record's text."""

    name: str = Field(description="Canonical section name (e.g. 'root_cause', 'mitigation'), or 'body'.")
    heading: str = Field(description="The heading as written in the document ('' for text before any).")
    start: int = Field(description="Offset of the section's first character in Record.text.")
    end: int = Field(description="Offset one past the section's last character in Record.text.")


class Message(BaseModel):
    """One chat message, in the order it was posted."""

    ts: dt.datetime | None = Field(default=None, description="When it was posted (UTC when known).")
    author: str = Field(description="Display name or handle of who posted it.")
    text: str = Field(description="The message text, after redaction.")
    thread_ts: str | None = Field(default=None, description="Thread parent id for Slack replies.")
    start: int = Field(default=0, description="Offset of the rendered message line in Record.text.")
    end: int = Field(default=0, description="Offset one past the rendered message line in Record.text.")


class Record(BaseModel):
    """One parsed document: a postmortem, a runbook, a chat log (one channel) or another text."""

    id: str = Field(description="Stable, human-typeable id, derived from the file (or channel) name.")
    kind: Kind = Field(description="postmortem, runbook, chat or document.")
    title: str = Field(description="From front matter, the first heading, or the file name.")
    source_path: str = Field(description="Absolute path of the file (or export folder) it came from.")
    source_key: str = Field(description="Identity of the source: path, plus '#channel' for Slack channels.")
    format: str = Field(description="markdown, pdf, text, transcript or slack.")
    content_hash: str = Field(description="sha256 of the raw source bytes plus the parser version.")
    text: str = Field(description="The full text after redaction; offsets point into it.")
    sections: list[Section] = Field(default_factory=list, description="Sections in document order.")
    services: list[str] = Field(default_factory=list, description="Services the document concerns.")
    alerts: list[str] = Field(default_factory=list, description="Alert names found in it.")
    error_strings: list[str] = Field(default_factory=list, description="Error messages / classes found.")
    severity: str | None = Field(default=None, description="Normalised severity, e.g. 'SEV2'.")
    date: dt.date | None = Field(default=None, description="Incident date, review date or first message day.")
    tags: list[str] = Field(default_factory=list, description="Free tags from front matter.")
    owner: str | None = Field(default=None, description="Owner from front matter.")
    duration: str | None = Field(default=None, description="Duration as written ('47m', '1h 12m').")
    messages: list[Message] = Field(default_factory=list, description="Chat messages (chat logs only).")
    redactions: int = Field(default=0, description="How many secrets were replaced by a marker.")
    front_matter: dict[str, object] = Field(default_factory=dict, description="Raw front matter.")


class Chunk(BaseModel):
    """A passage of one record, following section boundaries, with its offsets."""

    id: str = Field(description="'<record id>:<content hash prefix>:<n>'.")
    record_id: str = Field(description="Id of the record it belongs to.")
    section: str = Field(description="Canonical name of the section it lies in.")
    heading: str = Field(default="", description="That section's heading as written.")
    start: int = Field(description="Offset of the first character in the record's text.")
    end: int = Field(description="Offset one past the last character in the record's text.")
    text: str = Field(description="Record.text[start:end].")


class Hit(BaseModel):
    """A chunk a retriever returned for a query."""

    chunk: Chunk
    score: float = Field(description="Retriever score; cosine similarity for the dense retriever.")
    retriever: str = Field(description="Which retriever found it: 'dense', 'bm25' or 'hybrid'.")


class RecordSummary(BaseModel):
    """The fields of a record a result list shows."""

    id: str
    kind: Kind
    title: str
    services: list[str] = Field(default_factory=list)
    severity: str | None = None
    date: dt.date | None = None
    source_path: str = ""


class RankedDocument(BaseModel):
    """A search result: a document with the passages that matched and why."""

    record: RecordSummary
    score: float = Field(description="The document's score: its best passage's score.")
    hits: list[Hit] = Field(default_factory=list, description="Matching passages, best first.")
    why: list[str] = Field(default_factory=list, description="Reasons it matched, for people.")


class IngestFailure(BaseModel):
    """A file that could not be ingested, and why."""

    path: str
    error: str


class FileOutcome(BaseModel):
    """What ingest did with one source file."""

    path: str
    status: str = Field(description="added, updated, unchanged, removed or failed.")
    records: list[str] = Field(default_factory=list, description="Record ids it produced.")
    chunks: int = 0
    redactions: int = 0
    error: str | None = None


class IngestReport(BaseModel):
    """The summary of one ingest run."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: list[IngestFailure] = Field(default_factory=list)
    redacted: int = 0
    embedded_chunks: int = Field(default=0, description="Chunks that needed a new embedding.")
    reused_embeddings: int = Field(default=0, description="Chunks whose embedding was reused.")
    files: list[FileOutcome] = Field(default_factory=list)
    skipped: list[str] = Field(default_factory=list, description="Files not read: not a supported type.")
    seconds: float = 0.0

    def summary(self) -> dict[str, object]:
        """What `kb ingest --json` prints: the counts, then one entry per file."""
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "failed": [f.model_dump() for f in self.failed],
            "redacted": self.redacted,
            "files": [f.model_dump(exclude_none=True) for f in self.files],
            "skipped": self.skipped,
        }
