"""Ingesting a path named by a caller who may read one folder only (an agent through the MCP server): the path is
taken relative to the folder the operator chose, and refused unless its real path, every symbolic link resolved,
lies inside that folder. Inside it, the folder walk refuses links that lead out of the folder named (see
``ingest.sources.discover``). What comes back is one result per file, its path relative to the folder:

- ``ingested`` (``as``: added or updated, with its record ids, passages and redactions),
- ``unchanged`` (the store holds it as it is; a runbook replaced by an approved revision too),
- ``skipped`` (not a format the ingester reads),
- ``failed`` (with the reason: a malformed export, an empty file, a link out of the folder...).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from kb.core.errors import ParseError
from kb.core.models import Kind
from kb.core.reports import IngestReport

if TYPE_CHECKING:
    from ingest.pipeline import Ingestor

OUTSIDE = "outside the folder this server may ingest: name a file or folder inside it"


def inside(root: Path, name: str) -> Path:
    """The real path of ``name`` (relative to ``root``, or absolute) when it is ``root`` or lies inside it, with
    every symbolic link resolved; a ``ParseError`` naming ``name`` otherwise, or when nothing is there."""
    if not name.strip():
        raise ParseError(repr(name), "no path given: name a file or folder inside the ingest folder")
    try:
        real_root = root.expanduser().resolve(strict=True)
        real = (real_root / Path(name).expanduser()).resolve()  # an absolute name replaces the root
    except FileNotFoundError as exc:
        raise ParseError(str(root), "the ingest folder does not exist") from exc
    except (OSError, RuntimeError, ValueError) as exc:  # a loop of links (RuntimeError before 3.13), a NUL
        raise ParseError(name, f"cannot be resolved: {exc}") from exc
    if real != real_root and real_root not in real.parents:
        raise ParseError(name, OUTSIDE)
    if not real.exists():
        raise ParseError(name, "no such file or folder in the ingest folder")
    return real


def ingest_inside(ingestor: Ingestor, root: Path, name: str, kind: Kind | None = None) -> list[dict[str, Any]]:
    """Ingest ``name`` (a file or folder inside ``root``) through the pipeline, as `kb ingest` does; one result
    per file (see the module's docstring)."""
    report = ingestor.run([inside(root, name)], kind=kind)
    return file_results(report, root)


def _shown(path: str, real_root: Path) -> str:
    try:
        return str(Path(path).relative_to(real_root))
    except ValueError:
        return path


def file_results(report: IngestReport, root: Path) -> list[dict[str, Any]]:
    """One JSON-ready result per file of an ingest run, paths relative to ``root``."""
    real_root = root.expanduser().resolve()
    out: list[dict[str, Any]] = []
    for f in report.files:
        entry: dict[str, Any] = {"path": _shown(f.path, real_root)}
        if f.status in ("added", "updated"):
            entry |= {"result": "ingested", "as": f.status, "records": f.records, "passages": f.chunks,
                      "redactions": f.redactions}
        elif f.status in ("unchanged", "superseded"):
            entry |= {"result": "unchanged", "records": f.records}
        elif f.status == "failed":
            entry |= {"result": "failed", "reason": f.error or "unknown"}
        else:  # removed: only a prune removes, and this never prunes
            entry |= {"result": f.status, "records": f.records}
        out.append(entry)
    out += [{"path": _shown(p, real_root), "result": "skipped", "reason": "not a format the ingester reads"}
            for p in report.skipped]
    return out
