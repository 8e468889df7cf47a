"""What an ingest run reports: per file, and in total (``kb ingest --json`` prints its summary)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class IngestFailure(BaseModel):
    """A file that could not be ingested, and why."""

    path: str
    error: str


class FileOutcome(BaseModel):
    """What ingest did with one source file."""

    path: str
    status: str = Field(description="added, updated, unchanged, superseded (by a runbook revision), removed or failed.")
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
