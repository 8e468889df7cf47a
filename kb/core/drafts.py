"""The documents generation hands back: drafts (runbooks, summaries), runbook update proposals, revisions
and stale runbooks. Each line of them is a cited ``DraftItem`` (``kb.core.models``)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from kb.core.enums import Generator
from kb.core.models import Citation, DraftItem, DroppedItem


class Draft(BaseModel):
    """A generated document: a runbook draft or an incident summary."""

    title: str
    markdown: str = Field(description="The whole draft as Markdown, with a references list.")
    generator: Generator = Field(description="'extractive' (no LLM) or 'llm'.")
    model: str | None = Field(default=None, description="The LLM's name when one was used.")
    items: list[DraftItem] = Field(default_factory=list)
    dropped: list[DroppedItem] = Field(default_factory=list, description="Lines removed as ungrounded.")
    sources: list[str] = Field(default_factory=list, description="Ids of the documents it drew from.")
    note: str | None = Field(default=None, description="Why an LLM's reply was set aside for the offline path.")

    def as_json(self) -> dict[str, object]:
        """The documented ``--json`` shape."""
        return {
            "title": self.title,
            "markdown": self.markdown,
            "generator": self.generator,
            "model": self.model,
            "note": self.note,
            "items": [i.model_dump(exclude_none=True) for i in self.items],
            "dropped": [d.model_dump() for d in self.dropped],
            "sources": self.sources,
        }


class ProposalHunk(BaseModel):
    """One hunk of a proposed runbook change with the sources behind it."""

    text: str = Field(description="The hunk in unified-diff form.")
    citations: list[Citation] = Field(default_factory=list)


class RunbookProposal(BaseModel):
    """A proposed new revision of a runbook, waiting for a person to approve it."""

    runbook_id: str
    title: str
    base_hash: str = Field(description="Content hash of the runbook version the proposal was made against.")
    since: dt.date | None = Field(default=None, description="Incidents from this date on were considered.")
    created: dt.datetime
    generator: Generator = Generator.extractive
    note: str | None = Field(default=None, description="Why an LLM's reply was set aside for the offline lines.")
    diff: str = Field(description="Unified diff from the current text to the proposed text.")
    hunks: list[ProposalHunk] = Field(default_factory=list)
    items: list[DraftItem] = Field(default_factory=list, description="The changes, each with its citations.")
    dropped: list[DroppedItem] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list, description="Incidents and chats the changes come from.")
    old_markdown: str
    new_markdown: str
    path: str = Field(default="", description="Where the proposal is saved.")
    id: str = Field(
        default="",
        description="The proposal's id in the data directory's proposal store (its file name without .json); "
        "set from the file it was saved to or read from, never from the file's content.",
    )

    def as_json(self) -> dict[str, object]:
        return {
            "runbook_id": self.runbook_id,
            "diff": self.diff,
            "hunks": [h.model_dump() for h in self.hunks],
            "proposal_id": self.id,
            "proposal": self.path,
            "generator": self.generator,
            "note": self.note,
            "sources": self.sources,
            "dropped": [d.model_dump() for d in self.dropped],
        }


class Revision(BaseModel):
    """One saved revision of a runbook."""

    number: int
    created: dt.datetime
    path: str = Field(description="The Markdown file of this revision.")
    proposal: str | None = Field(default=None, description="The proposal it was applied from.")
    content_sha256: str
    note: str = ""


class StaleRunbook(BaseModel):
    """A runbook with incidents about its services since it last changed."""

    runbook_id: str
    title: str
    last_changed: dt.date | None
    incidents: int
    newest_incident: str | None = None
    newest_date: dt.date | None = None
    incident_ids: list[str] = Field(default_factory=list)
