"""`kb doctor`: check the invariants of a store (and its keyword index), and repair what can be repaired.

Invariants:

- every record entry parses as a record;
- every chunk belongs to a stored record and to that record's current version (no orphan chunks);
- every record has exactly the chunks its entry says, numbered 0..n-1 once each (complete, no duplicates);
- no write was cut short between its commit and the change of the store's version stamp (readers would
  not learn of what it committed);
- the keyword index for the store's current version holds exactly its current chunks. An index saved for
  an older version (or none, as in a new data directory) is no problem: searches rebuild it, and so does
  this check; one that claims the current version with other passages is, since searches trust it.

Repairs: orphan chunks are deleted; a record whose chunks are incomplete is removed (its source file is
named so that `kb ingest` restores it); a cut-short write gets its version stamp; the keyword index is
rebuilt from the store.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from kb.clients.store import Store
from kb.core.errors import KBError
from kb.core.models import Record, RecordMeta
from kb.retrieval.keyword import KeywordIndex


@dataclass
class Problem:
    kind: str  # orphan-chunks, incomplete-record, duplicate-chunks, unreadable-record, unannounced-write,
    # stale-keyword-index
    subject: str
    detail: str
    repaired: bool = False


@dataclass
class DoctorReport:
    records: int = 0
    chunks: int = 0
    problems: list[Problem] = field(default_factory=list)
    reingest: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return all(p.repaired for p in self.problems)

    def as_json(self) -> dict[str, object]:
        return {
            "records": self.records,
            "chunks": self.chunks,
            "healthy": self.healthy,
            "problems": [p.__dict__ for p in self.problems],
            "reingest": self.reingest,
        }


def check(store: Store, keyword: KeywordIndex | None = None, repair: bool = False) -> DoctorReport:
    """Check (and with ``repair``, fix) a store; holds the write lock while repairing."""
    if repair:
        with store.write_lock():
            return _check(store, keyword, repair=True)
    return _check(store, keyword, repair=False)


def _check(store: Store, keyword: KeywordIndex | None, repair: bool) -> DoctorReport:
    report = DoctorReport()
    version = store.version()
    index = store.record_index()
    report.records = len(index)
    numbers: dict[str, list[int]] = defaultdict(list)
    orphans: list[str] = []
    current: dict[str, list[str]] = defaultdict(list)
    for cid, _text, chunk_meta in store.iter_chunks():
        report.chunks += 1
        rid = chunk_meta.record_id
        rec = index.get(rid)
        if rec is None or rec.content_hash != chunk_meta.content_hash:
            orphans.append(cid)
            continue
        current[rid].append(cid)
        try:
            numbers[rid].append(int(cid.rsplit(":", 1)[1]))
        except (IndexError, ValueError):
            numbers[rid].append(-1)
    # looked at before any repair changes the store, so a wrong index is reported even when a repair rebuilds it
    ids = {c for cids in current.values() for c in cids}
    stale_index = _keyword_problem(keyword, version, ids) if keyword is not None else None
    if orphans:
        report.problems.append(Problem("orphan-chunks", f"{len(orphans)} chunks",
                                       "chunks of removed records or of replaced versions"))
        if repair:
            store.sweep_orphans()
            report.problems[-1].repaired = True
    for rid, meta in sorted(index.items()):
        try:
            Record.model_validate_json(store.get_record_json(rid))
        except (KBError, ValueError) as exc:
            _broken(store, report, rid, meta, "unreadable-record", f"the record entry does not parse: {exc}", repair)
        else:
            have = sorted(numbers.get(rid, []))
            want = meta.chunks
            if len(have) != len(set(have)):
                _broken(store, report, rid, meta, "duplicate-chunks", f"chunk numbers repeat: {have}", repair)
            elif have != list(range(want)):
                _broken(store, report, rid, meta, "incomplete-record", f"{len(have)} of {want} chunks stored", repair)
            else:
                continue
        if repair:
            current.pop(rid, None)  # removed with its record
    if store.interrupted_write():
        problem = Problem("unannounced-write", "store version",
                          "a write was cut short after its commit, so searches may not see it (or an ingest is "
                          "running now)")
        report.problems.append(problem)
        if repair:
            problem.repaired = store.finish_interrupted_write() or not store.interrupted_write()
    if keyword is not None:
        _check_keyword(store, keyword, report, stale_index, {c for cids in current.values() for c in cids}, repair)
    return report


def _keyword_problem(keyword: KeywordIndex, version: str, current: set[str]) -> Problem | None:
    """The index a search would use now (the one saved for this version, else built and saved, as a search
    does) must hold exactly the current chunks."""
    keyword.ensure_fresh(force=True)
    if keyword.version != version or set(keyword.chunk_ids) == current:
        return None  # right, or another process changed the store during the check: nothing to compare
    return Problem("stale-keyword-index", "keyword index",
                   f"saved for store version {version or '(none)'} but its passages differ from the store's")


def _check_keyword(store: Store, keyword: KeywordIndex, report: DoctorReport, problem: Problem | None,
                   current: set[str], repair: bool) -> None:
    """Report a wrong index; repair rebuilds it from the store whatever is saved, and checks the result."""
    if problem is not None:
        report.problems.append(problem)
    if not repair:
        return
    keyword.rebuild()
    right = keyword.saved_version() == store.version() and set(keyword.chunk_ids) == current
    if problem is not None:
        problem.repaired = right
    elif not right:
        report.problems.append(Problem("stale-keyword-index", "keyword index", "rebuilt, but still differs"))


def _broken(store: Store, report: DoctorReport, rid: str, meta: RecordMeta, kind: str, detail: str,
            repair: bool) -> None:
    problem = Problem(kind, rid, detail)
    report.problems.append(problem)
    source = meta.source_path
    if repair:
        store.delete_record(rid)
        problem.repaired = True
        if source:
            report.reingest.append(source)
