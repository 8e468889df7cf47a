"""`kb doctor`: check the invariants of a store (and its keyword index), and repair what can be repaired.

Invariants:

- every record entry parses as a record;
- every chunk belongs to a stored record and to that record's current version (no orphan chunks);
- every record has exactly the chunks its entry says, numbered 0..n-1 once each (complete, no duplicates);
- the keyword index is built from the store's current version and holds exactly its current chunks.

Repairs: orphan chunks are deleted; a record whose chunks are incomplete is removed (its source file is
named so that `kb ingest` restores it); the keyword index is rebuilt.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from kb.errors import KBError
from kb.keyword import KeywordIndex
from kb.models import Record
from kb.store import Store


@dataclass
class Problem:
    kind: str  # orphan-chunks, incomplete-record, duplicate-chunks, unreadable-record, stale-keyword-index
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
    index = store.record_index()
    report.records = len(index)
    numbers: dict[str, list[int]] = defaultdict(list)
    orphans: list[str] = []
    current: set[str] = set()
    for cid, _text, meta in store.iter_chunks():
        report.chunks += 1
        rid = str(meta.get("record_id", ""))
        rec = index.get(rid)
        if rec is None or rec.get("content_hash") != meta.get("content_hash"):
            orphans.append(cid)
            continue
        current.add(cid)
        try:
            numbers[rid].append(int(cid.rsplit(":", 1)[1]))
        except (IndexError, ValueError):
            numbers[rid].append(-1)
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
            continue
        have = sorted(numbers.get(rid, []))
        want = int(meta.get("chunks") or 0)
        if len(have) != len(set(have)):
            _broken(store, report, rid, meta, "duplicate-chunks", f"chunk numbers repeat: {have}", repair)
        elif have != list(range(want)):
            _broken(store, report, rid, meta, "incomplete-record", f"{len(have)} of {want} chunks stored", repair)
    if keyword is not None:
        saved = keyword.saved_version()
        if saved != store.version():
            problem = Problem("stale-keyword-index", "keyword index",
                              f"saved for store version {saved or '(none)'}, the store is at {store.version()}")
            report.problems.append(problem)
        else:
            keyword.ensure_fresh(force=True)
            if set(keyword.chunk_ids) != current:
                problem = Problem("stale-keyword-index", "keyword index", "its passages differ from the store's")
                report.problems.append(problem)
        if repair:
            keyword.ensure_fresh(force=True)
            for p in report.problems:
                if p.kind == "stale-keyword-index":
                    p.repaired = keyword.saved_version() == store.version()
    return report


def _broken(store: Store, report: DoctorReport, rid: str, meta: dict[str, object], kind: str, detail: str,
            repair: bool) -> None:
    problem = Problem(kind, rid, detail)
    report.problems.append(problem)
    source = str(meta.get("source_path", ""))
    if repair:
        store.delete_record(rid)
        problem.repaired = True
        if source:
            report.reingest.append(source)
