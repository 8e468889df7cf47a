"""The proposal store: update proposals are saved here by ``propose_update`` and applied only from here.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import ValidationError

from kb.clients.files import write_atomic
from kb.core.drafts import RunbookProposal
from kb.core.errors import ProposalError
from kb.core.settings import Settings

#: What a proposal id looks like (syntax only): ids name files, so no separators or dots.
PROPOSAL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,199}")
MAX_PROPOSAL_BYTES = 20 * 1024 * 1024


def proposals_dir(settings: Settings) -> Path:
    """The proposal store: the only place proposals are applied from."""
    return settings.data_dir / "proposals"


def save_proposal(settings: Settings, proposal: RunbookProposal) -> Path:
    folder = proposals_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{proposal.runbook_id}-{proposal.created.strftime('%Y%m%dT%H%M%S')}.json"
    proposal.path = str(path)
    proposal.id = path.stem
    write_atomic(path, proposal.model_dump_json(indent=2))
    return path


def proposal_file(settings: Settings, ref: str, paths: bool = True) -> Path:
    """The file of the stored proposal ``ref`` names: a proposal id (what ``kb runbook update`` prints) or,
    with ``paths``, the path of a file in the proposal store. Anything that resolves elsewhere (another
    folder, ``..``, a link out of the store) is refused."""
    store = proposals_dir(settings).resolve()
    if any(sep in ref for sep in ("/", "\\")) or ref.endswith(".json") or ref.startswith("."):
        if not paths:
            raise ProposalError(f"'{ref}': give a proposal id (as `kb runbook update` prints it), not a file path")
        path = Path(ref).expanduser()
    elif PROPOSAL_ID.fullmatch(ref):
        path = store / f"{ref}.json"
    else:
        raise ProposalError(f"'{ref}' is not a proposal id (letters, digits, '-' and '_', as `kb runbook update` "
                            "prints it)")
    resolved = path.resolve()
    if resolved.parent != store or resolved.suffix != ".json" or not PROPOSAL_ID.fullmatch(resolved.stem):
        raise ProposalError(f"{ref}: not in the proposal store ({store}); only proposals saved by `kb runbook "
                            "update` are applied")
    return resolved


def stored_proposal(settings: Settings, ref: str, paths: bool = True) -> RunbookProposal:
    """A proposal from the data directory's proposal store (see ``proposal_file``); its id and path are
    where it was read from, whatever the file says."""
    path = proposal_file(settings, ref, paths)
    proposal = load_proposal(path)
    proposal.path, proposal.id = str(path), path.stem
    return proposal


def load_proposal(path: Path) -> RunbookProposal:
    try:
        if path.stat().st_size > MAX_PROPOSAL_BYTES:
            raise ProposalError(f"{path}: too large for a runbook proposal ({path.stat().st_size} bytes)")
        return RunbookProposal.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ProposalError(f"{path}: no such proposal") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(x) for x in e['loc']) or 'the file'}: {e['msg']}" for e in exc.errors()[:3]
        )
        raise ProposalError(f"{path}: not a runbook proposal ({problems})") from exc
    except (OSError, ValueError) as exc:
        raise ProposalError(f"{path}: cannot read the proposal ({exc})") from exc
