"""Applying an approved runbook proposal: write the new revision, then index it in place of the old one.

The revision file names the source it supersedes in its front matter, so it keeps the runbook's id and
a later ``kb ingest`` of the original folder leaves the approved revision in place.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import BaseModel

from ingest.pipeline import Ingestor
from kb import runbooks
from kb.errors import ProposalError
from kb.keyword import KeywordIndex
from kb.models import IngestReport, Kind, Revision
from kb.settings import Settings
from kb.store import Store


class Applied(BaseModel):
    """What ``kb runbook apply`` did."""

    runbook_id: str
    revision: Revision
    path: str
    report: IngestReport


def apply_proposal(
    settings: Settings,
    store: Store,
    embedding: BaseEmbedding,
    keyword: KeywordIndex | None,
    proposal_path: Path,
    now: dt.datetime | None = None,
) -> Applied:
    """Write the approved revision of a runbook and re-index it under the same id."""
    proposal = runbooks.load_proposal(proposal_path)
    current = store.get_record(proposal.runbook_id)
    target = runbooks.write_revision(settings, proposal, current, now)
    report = Ingestor(settings, store, embedding, keyword).run([target], kind=Kind.runbook)
    if report.failed:
        reason = report.failed[0].error
        raise ProposalError(f"{target}: the new revision was written but could not be indexed: {reason}")
    revision = runbooks.history(settings, proposal.runbook_id)[-1]
    return Applied(runbook_id=proposal.runbook_id, revision=revision, path=str(target), report=report)
