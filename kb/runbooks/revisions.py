"""Approved runbook revisions: the stored base text plus a reviewed diff becomes a new revision file
(``write_revision``, used by ``ingest.revisions.apply_proposal``); every revision is kept in the runbook's
history. ``verify_revision`` tells ingest whether a file is the approved revision it claims to be (only
that may take over a runbook's id).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from kb.clients.files import write_atomic
from kb.core.drafts import Revision, RunbookProposal
from kb.core.errors import ProposalError
from kb.core.models import Record
from kb.core.settings import Settings
from kb.text import unidiff
from kb.text.front_matter import set_front_fields, split_front

#: What a runbook id looks like (syntax only): ids name files, so no separators or dots.
RUNBOOK_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,199}")


def revisions_dir(settings: Settings) -> Path:
    """Approved runbook revisions live here (and are ingested from here)."""
    return settings.data_dir / "runbooks"


def history_dir(settings: Settings, runbook_id: str) -> Path:
    return settings.data_dir / "runbook-history" / runbook_id


def revision_file(settings: Settings, runbook_id: str) -> Path:
    """Where the current approved revision of a runbook lives (resolved, as ingest sees it)."""
    return revisions_dir(settings).resolve() / f"{runbook_id}.md"


def runbook_markdown(record: Record) -> str:
    """The runbook as a Markdown file: its front matter and its (redacted) text."""
    front = dict(record.front_matter)
    body = record.text
    if record.front_matter_text:  # as written, so a diff against the file applies to it
        return "---\n" + record.front_matter_text + "---\n" + body
    if not front:
        return body if body.endswith("\n") else body + "\n"
    return "---\n" + yaml.safe_dump(front, sort_keys=False, allow_unicode=True) + "---\n" + body


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def history(settings: Settings, runbook_id: str) -> list[Revision]:
    """Every saved revision of a runbook, oldest first (empty when it was never revised here)."""
    if not RUNBOOK_ID.fullmatch(runbook_id):
        return []
    log = history_dir(settings, runbook_id) / "history.json"
    if not log.exists():
        return []
    try:
        return [Revision.model_validate(r) for r in json.loads(log.read_text(encoding="utf-8"))]
    except (ValueError, TypeError) as exc:  # pydantic's ValidationError is a ValueError
        raise ProposalError(f"{log}: the revision history cannot be read ({type(exc).__name__})") from exc


def verify_revision(settings: Settings, path: Path) -> str:
    """The source key an approved revision file supersedes. Raises ProposalError unless ``path`` is a
    runbook's current revision file in the data directory (``runbooks/ID.md``, not a link) and its bytes
    are the last revision ``kb runbook apply`` recorded in that runbook's history (by SHA-256)."""
    runbook_id = path.stem
    if not RUNBOOK_ID.fullmatch(runbook_id) or path != revision_file(settings, runbook_id) or path.is_symlink():
        raise ProposalError("not an approved revision: approved revisions are runbooks/ID.md in the data directory")
    revisions = history(settings, runbook_id)
    if not revisions:
        raise ProposalError(f"not an approved revision: no revision of '{runbook_id}' was ever applied here")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ProposalError(f"not an approved revision: cannot read it ({exc.strerror})") from exc
    if hashlib.sha256(data).hexdigest() != revisions[-1].content_sha256:
        raise ProposalError(
            f"not an approved revision: it does not match its revision history (r{revisions[-1].number} of "
            f"'{runbook_id}' was recorded with another text; was it edited by hand?)"
        )
    front, _ = split_front(data.decode("utf-8"))
    return str(front.get("supersedes") or "")


@dataclass(frozen=True)
class _Checked:
    """A proposal that passed every check: the runbook's stored text, and that text with the diff applied."""

    base: str
    new: str


def _check_proposal(settings: Settings, proposal: RunbookProposal, current: Record) -> _Checked:
    """Refuse a proposal made against another version of the runbook, one already applied, one whose diff does
    not apply exactly, and one whose stored new text is not base + diff (what a reviewer of the diff approved)."""
    if not RUNBOOK_ID.fullmatch(proposal.runbook_id) or proposal.runbook_id != current.id:
        raise ProposalError(f"the proposal names '{proposal.runbook_id[:80]}', not a runbook id")
    if not proposal.diff:
        raise ProposalError(f"the proposal for '{proposal.runbook_id}' changes nothing")
    applied = [r for r in history(settings, proposal.runbook_id) if proposal.path and r.proposal == proposal.path]
    done = applied[0] if applied else None
    if done is not None:
        raise ProposalError(
            f"this proposal was already applied to '{proposal.runbook_id}' as revision {done.number} "
            f"({done.created:%Y-%m-%d %H:%M} UTC); see `kb runbook history {proposal.runbook_id}`"
        )
    if current.content_hash != proposal.base_hash:
        raise ProposalError(
            f"'{proposal.runbook_id}' changed since this proposal was made; run `kb runbook update "
            f"{proposal.runbook_id}` again"
        )
    base = runbook_markdown(current)
    if proposal.old_markdown != base:
        raise ProposalError(f"the proposal's base text is not the stored text of '{proposal.runbook_id}'; run "
                            f"`kb runbook update {proposal.runbook_id}` again")
    new = unidiff.apply(base, proposal.diff)
    if new != proposal.new_markdown:
        raise ProposalError(
            f"the proposal's new text differs from base + its diff (what a reviewer of the diff approved); "
            f"refused. Run `kb runbook update {proposal.runbook_id}` again"
        )
    return _Checked(base, new)


def _history_from_base(folder: Path, revisions: list[Revision], base: str, current: Record, stamp: dt.datetime) -> None:
    """A runbook revised for the first time keeps the version the proposal started from as revision 1."""
    if revisions:
        return
    first = folder / "r0001.md"
    first.write_text(base, encoding="utf-8")
    revisions.append(
        Revision(
            number=1,
            created=stamp,
            path=str(first),
            content_sha256=_sha(base),
            note=f"as ingested from {current.source_path}",
        )
    )


def _supersedes(current: Record, target: Path) -> str:
    """The source a new revision supersedes: a runbook revised before keeps superseding the original source;
    the first revision supersedes the ingested one."""
    revised = Path(current.source_path) == target and current.front_matter.get("supersedes")
    return current.supersedes or (str(current.front_matter["supersedes"]) if revised else current.source_key)


def write_revision(
    settings: Settings, proposal: RunbookProposal, current: Record, now: dt.datetime | None = None
) -> Path:
    """Save the stored base text plus the proposal's diff as the runbook's current file and as a numbered
    revision; keep the previous one. Refuses a proposal made against another version of the runbook, one
    whose diff does not apply exactly, and one whose stored new text is not base + diff (what a reviewer of
    the diff approved). Returns the current file."""
    checked = _check_proposal(settings, proposal, current)
    stamp = now or dt.datetime.now(dt.UTC)
    folder = history_dir(settings, proposal.runbook_id)
    folder.mkdir(parents=True, exist_ok=True)
    revisions = history(settings, proposal.runbook_id)
    _history_from_base(folder, revisions, checked.base, current, stamp)
    number = revisions[-1].number + 1
    snapshot = folder / f"r{number:04d}.md"
    target = revision_file(settings, proposal.runbook_id)
    text = set_front_fields(checked.new, {"supersedes": _supersedes(current, target), "revision": number})
    snapshot.write_text(text, encoding="utf-8")
    revisions.append(
        Revision(
            number=number,
            created=stamp,
            path=str(snapshot),
            proposal=proposal.path or None,
            content_sha256=_sha(text),
            note=f"{len(proposal.items)} changes from {', '.join(proposal.sources)}",
        )
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(target, text)
    write_atomic(folder / "history.json", json.dumps([r.model_dump(mode="json") for r in revisions], indent=2))
    return target
