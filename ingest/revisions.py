"""Applying an approved runbook proposal: write the new revision, then index it in place of the old one.

The proposal is read from the data directory's proposal store only, and what is written is the runbook's
stored text plus the proposal's diff (``kb.runbooks.revisions.write_revision``). The revision file names the source
it supersedes in its front matter; ingest trusts that line only in this file, and only while its bytes are
the revision recorded in the runbook's history, so it keeps the runbook's id and a later ``kb ingest`` of
the original folder leaves the approved revision in place.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from filelock import FileLock, Timeout
from pydantic import BaseModel

from ingest.pipeline import Ingestor
from kb.core.drafts import Revision
from kb.core.errors import ProposalError
from kb.core.models import Kind
from kb.core.reports import IngestReport
from kb.runbooks.proposals import stored_proposal
from kb.runbooks.revisions import history, write_revision

if TYPE_CHECKING:
    from kb.knowledge import KnowledgeBase


class Applied(BaseModel):
    """What ``kb runbook apply`` did."""

    runbook_id: str
    revision: Revision
    path: str
    report: IngestReport


def apply_proposal(
    kb: KnowledgeBase,
    proposal_ref: str,
    now: dt.datetime | None = None,
    *,
    paths: bool = True,
    reviewed_diff: str | None = None,
) -> Applied:
    """Write the approved revision of a runbook and re-index it under the same id.

    ``proposal_ref`` is a proposal id or (with ``paths``) the path of a file in the proposal store.
    ``reviewed_diff``: the diff the person approving was shown; a stored proposal that differs is refused.
    """
    settings = kb.settings
    proposal = stored_proposal(settings, proposal_ref, paths=paths)
    if reviewed_diff is not None and proposal.diff != reviewed_diff:
        raise ProposalError(f"proposal {proposal.id} is not the one reviewed: its diff changed since; review it again")
    # one apply at a time, from the base check to the re-index: a second proposal against the same base
    # then finds the runbook changed and is refused, instead of overwriting the first revision
    folder = settings.data_dir / "runbook-history"
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(folder / "apply.lock"))
    try:
        lock.acquire(timeout=max(settings.lock_timeout_s, 1.0))
    except Timeout as exc:
        raise ProposalError("another proposal is being applied; try again when it is done") from exc
    try:
        current = kb.record(proposal.runbook_id)
        target = write_revision(settings, proposal, current, now)
        report = Ingestor.into(kb).run([target], kind=Kind.runbook)
    finally:
        lock.release()
    if report.failed:
        reason = report.failed[0].error
        raise ProposalError(f"{target}: the new revision was written but could not be indexed: {reason}")
    revision = history(settings, proposal.runbook_id)[-1]
    return Applied(runbook_id=proposal.runbook_id, revision=revision, path=str(target), report=report)
