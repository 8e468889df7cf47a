"""The ingestion pipeline: discover -> hash -> parse (with redaction) -> chunk -> embed -> store.

Incremental: a unit whose content hash matches what is stored is not parsed, chunked or embedded.
A changed unit's records replace their old versions atomically (see ``kb.clients.store``). Chunk texts whose
embedding is already in the store are not embedded again. ``prune`` removes records whose source
files are gone.

Embedding and storing go batch by batch (``WRITE_BATCH_FILES`` files or ``WRITE_BATCH_CHUNKS`` chunks):
a killed run keeps every batch it committed, and the next run resumes, since committed files are
unchanged by content hash.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from llama_index.core.base.embeddings.base import BaseEmbedding

from ingest import extract, filler
from ingest.chunking import chunk_record, embedding_text
from ingest.redaction.records import SecretInName
from ingest.sources import Unit, discover, parse_unit, unit_hash
from ingest.sources.base import ParseOptions
from kb.clients.store import Store
from kb.core.errors import ParseError, ProposalError
from kb.core.models import Chunk, Kind, Record, RecordMeta
from kb.core.reports import FileOutcome, IngestFailure, IngestReport
from kb.core.settings import Settings
from kb.retrieval.keyword import KeywordIndex
from kb.runbooks import revisions as runbook_revisions

if TYPE_CHECKING:
    from kb.knowledge import KnowledgeBase

WRITE_BATCH_CHUNKS = 200  # about 15 s of embedding with the default model on 2 cores: what a kill can lose
WRITE_BATCH_FILES = 50

#: progress(stage, done, total); stages: "scan" (files read), "embed" (chunks embedded or reused, and
#: committed batch by batch), "index" (the keyword index refreshed at the end).
Progress = Callable[[str, int, int], None]


def _no_progress(stage: str, done: int, total: int) -> None:
    return None


@dataclass
class _Pending:
    unit: Unit
    outcome: FileOutcome
    records: list[Record] = field(default_factory=list)
    chunks: dict[str, list[Chunk]] = field(default_factory=dict)
    hashes: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class _StoredSources:
    """What the store holds that decides whether a unit is read again."""

    by_path: dict[str, list[RecordMeta]]  # source path -> metadata of its stored records
    superseded: dict[str, str]  # a source replaced by an approved revision (its key: a file path) -> its id
    revisions: Path  # the folder of approved revisions (resolved)


def _fail(report: IngestReport, outcome: FileOutcome, path: str, error: str) -> None:
    """Report one file as failed, with why."""
    outcome.error = error
    report.failed.append(IngestFailure(path=path, error=error))
    report.files.append(outcome)


def _skip_superseded(unit: Unit, stored: _StoredSources, outcome: FileOutcome, report: IngestReport) -> bool:
    """A source replaced by an approved revision is not read again: reported as superseded."""
    if str(unit.path) not in stored.superseded:
        return False
    outcome.status = "superseded"
    outcome.records = [stored.superseded[str(unit.path)]]
    report.unchanged += 1
    report.files.append(outcome)
    return True


def _parse_if_changed(
    unit: Unit, stored: list[RecordMeta], options: ParseOptions, outcome: FileOutcome, report: IngestReport
) -> list[Record] | None:
    """The unit's records, or None when the store holds it unchanged by content hash (reported as such)."""
    digest = unit_hash(unit, options)
    if stored and all(m.content_hash == digest for m in stored) and kind_matches(stored, options):
        outcome.status = "unchanged"
        outcome.records = [m.id for m in stored]
        report.unchanged += len(stored)
        report.files.append(outcome)
        return None
    return parse_unit(unit, options)


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


class Ingestor:
    """Runs ingestion into one store with one embedding model."""

    def __init__(
        self, settings: Settings, store: Store, embedding: BaseEmbedding, keyword: KeywordIndex | None = None
    ) -> None:
        self.settings = settings
        self.store = store
        self.embedding = embedding
        self.keyword = keyword

    @classmethod
    def into(cls, kb: KnowledgeBase) -> Ingestor:
        """An ingestor into a knowledge base's store, keeping its keyword index in step."""
        return cls(kb.settings, kb.store, kb.embedding, kb.keyword)

    def options(self, kind: Kind | None, known_services: set[str]) -> ParseOptions:
        return ParseOptions(
            redact=self.settings.redact,
            kind=kind,
            known_services=known_services,
            max_bytes=int(self.settings.max_file_mb * 1024 * 1024),
        )

    def run(
        self, paths: Iterable[Path], kind: Kind | None = None, prune: bool = False, progress: Progress = _no_progress
    ) -> IngestReport:
        started = time.perf_counter()
        roots = [Path(p).expanduser().resolve() for p in paths]
        report = IngestReport()
        with self.store.write_lock():
            self.store.finish_interrupted_write()  # a run killed after a commit: tell readers of it now
            self.store.sweep_orphans()  # chunks a killed run wrote for a batch it did not commit
            index = self.store.record_index()
            known = {s for meta in index.values() for s in meta.services}
            options = self.options(kind, known)
            units, skipped = discover(roots)
            report.skipped = [str(p) for p in skipped]
            pending = self._scan(units, index, options, report, progress)
            self._fill_services(pending, options)
            self._assign_ids(pending, index)
            self._write(pending, index, report, progress)
            if prune:
                self._prune(roots, units, index, report)
            if self.keyword is not None:
                progress("index", 0, 1)
                self.keyword.ensure_fresh(force=True)  # saved now, so query processes load, not rebuild
                progress("index", 1, 1)
        report.seconds = time.perf_counter() - started
        return report

    # -- steps ------------------------------------------------------------------------------

    def _scan(
        self,
        units: list[Unit],
        index: dict[str, RecordMeta],
        options: ParseOptions,
        report: IngestReport,
        progress: Progress,
    ) -> list[_Pending]:
        """Read every unit the store does not hold unchanged; each file's failure is reported for that file
        alone: verify an approved revision -> skip a superseded source -> hash, and parse when changed."""
        stored = self._stored_sources(index)
        pending: list[_Pending] = []
        for done, unit in enumerate(units, start=1):
            progress("scan", done, len(units))
            outcome = FileOutcome(path=str(unit.path), status="failed")
            try:
                approved = self._approved_revision(unit, stored.revisions)
            except ProposalError as exc:
                _fail(report, outcome, str(unit.path), str(exc))
                continue
            if _skip_superseded(unit, stored, outcome, report):
                continue
            try:
                records = _parse_if_changed(unit, stored.by_path.get(str(unit.path), []), options, outcome, report)
            except ParseError as exc:
                if isinstance(exc, SecretInName):  # its path is shown with the secret replaced
                    outcome.path = exc.path
                _fail(report, outcome, exc.path, exc.reason)
                continue
            except Exception as exc:  # any other failure is this file's alone: the run goes on
                _fail(report, outcome, str(unit.path), f"cannot parse: {type(exc).__name__}: {exc}")
                continue
            if records is None:  # unchanged
                continue
            for record in records:
                record.supersedes = approved  # a 'supersedes:' line anywhere else is plain metadata
            outcome.redactions = sum(r.redactions for r in records)
            pending.append(_Pending(unit, outcome, records))
        return pending

    def _stored_sources(self, index: dict[str, RecordMeta]) -> _StoredSources:
        by_path: dict[str, list[RecordMeta]] = {}
        for meta in index.values():
            by_path.setdefault(meta.source_path, []).append(meta)
        # sources replaced by an approved revision (see kb.runbooks) are not read again; only a record stored
        # from a runbook's revision file in the data directory counts (older stores kept any front matter's claim)
        revisions = runbook_revisions.revisions_dir(self.settings).resolve()
        superseded = {
            meta.supersedes: rid
            for rid, meta in index.items()
            if meta.supersedes and meta.source_path == str(revisions / f"{rid}.md")
        }
        return _StoredSources(by_path, superseded, revisions)

    def _approved_revision(self, unit: Unit, revisions: Path) -> str:
        """What a file in the revisions folder supersedes, once verified as an approved revision (raises
        ProposalError when it is not one); "" for any other file."""
        if unit.path.parent != revisions:
            return ""
        return runbook_revisions.verify_revision(self.settings, unit.path)

    def _fill_services(self, pending: list[_Pending], options: ParseOptions) -> None:
        """Documents that declare no services get the known services they give strong evidence of (named in
        the title, in commands or host names, or repeatedly: ``extract.services_from_text``)."""
        known = set(options.known_services)
        for item in pending:
            for record in item.records:
                known.update(s for s in record.services if s)
        for item in pending:
            for record in item.records:
                if not record.services:
                    record.services = extract.services_from_text(record.text, known, record.title)

    def _assign_ids(self, pending: list[_Pending], index: dict[str, RecordMeta]) -> None:
        """Keep a source's existing id; give a new source a free one: 'name', else 'name-KIND' (a postmortem
        named like its incident's chat log: 'name-postmortem'), else 'name-KIND-2', ...

        Only a verified approved revision (``record.supersedes``, set in ``_scan``) takes over the id of the
        source it supersedes, and only the id its file is named for."""
        owner = {rid: meta.source_key for rid, meta in index.items()}
        by_key = {meta.source_key: rid for rid, meta in index.items()}
        # a store written before revisions were checked may hold an id that a file took over by claiming it
        # in its front matter: the source it took it from gets it back when ingested again (unless the
        # claiming file is read in the same run; then the source gets an id of its own)
        revisions = runbook_revisions.revisions_dir(self.settings).resolve()
        reading = {str(item.unit.path) for item in pending}
        taken = {
            meta.supersedes: rid
            for rid, meta in index.items()
            if meta.supersedes and meta.source_path != str(revisions / f"{rid}.md") and meta.source_path not in reading
        }
        for item in pending:
            for record in item.records:
                rid = taken.pop(record.source_key, None)
                if rid is not None and record.source_key not in by_key:
                    by_key.pop(owner[rid], None)
                    by_key[record.source_key] = owner[rid] = rid
        for item in pending:
            for record in item.records:
                claimed = by_key.get(record.supersedes) if record.supersedes else None
                if record.source_key not in by_key and claimed == Path(record.source_path).stem:
                    by_key[record.source_key] = by_key.pop(record.supersedes)  # a revision takes over the id
                if record.source_key in by_key:
                    record.id = by_key[record.source_key]
                else:
                    base, n = record.id, 1
                    while record.id in owner and owner[record.id] != record.source_key:
                        n += 1
                        record.id = f"{base}-{record.kind.value}" + (f"-{n - 1}" if n > 2 else "")
                owner[record.id] = record.source_key
                by_key[record.source_key] = record.id

    def _chunk(self, pending: list[_Pending]) -> dict[str, str]:
        """Chunk every pending record; return the text to embed of every chunk, by text hash."""
        max_words = max(16, int(self.settings.chunk_tokens * 0.75))
        texts: dict[str, str] = {}
        records = [record for item in pending for record in item.records]
        # filler marked, empty passages left out (ingest.filler): one model batch for the whole run
        sifted = iter(filler.sift(records, [chunk_record(record, max_words) for record in records]))
        for item in pending:
            for record in item.records:
                chunks = next(sifted)
                hashes = []
                for chunk in chunks:
                    text = embedding_text(record, chunk)
                    digest = text_hash(text)
                    texts.setdefault(digest, text)
                    hashes.append(digest)
                item.chunks[record.id] = chunks
                item.hashes[record.id] = hashes
                item.outcome.chunks += len(chunks)
        return texts

    def _chunk_and_embed(
        self, batch: list[_Pending], texts: dict[str, str], report: IngestReport, advance: Callable[[int], None]
    ) -> dict[str, list[float]]:
        """A vector for every chunk text of the batch: stored ones reused by text hash, the rest embedded."""
        wanted = list(dict.fromkeys(h for item in batch for hashes in item.hashes.values() for h in hashes))
        vectors = self.store.embeddings_by_text_hash(wanted)
        # similar lengths in one call waste less padding
        todo = sorted((h for h in wanted if h not in vectors), key=lambda h: len(texts[h]))
        needed = sum(len(hashes) for item in batch for hashes in item.hashes.values())
        step = max(1, self.settings.embed_batch_size) * 4
        for lo in range(0, len(todo), step):
            group = todo[lo : lo + step]
            vectors.update(zip(group, self.embedding.get_text_embedding_batch([texts[h] for h in group]), strict=True))
            advance(len(group))
        report.embedded_chunks += len(todo)
        report.reused_embeddings += needed - len(todo)
        return vectors

    def _write(
        self, pending: list[_Pending], index: dict[str, RecordMeta], report: IngestReport, progress: Progress
    ) -> None:
        """Chunk, embed and commit batch by batch: a batch of files is embedded, then committed (each record
        whole), then the next is embedded. A killed run loses at most the batch it was embedding; the next run
        finds the committed files unchanged by content hash and goes on from there.

        Progress is one bar, "embed": chunk texts of the run done (embedded or reused, then committed)."""
        texts = self._chunk(pending)
        total = sum(item.outcome.chunks for item in pending)
        done = 0
        progress("embed", 0, total)

        def advance(n: int) -> None:
            nonlocal done
            done += n
            progress("embed", min(done, total), total)

        batch: list[_Pending] = []
        chunks_in_batch = 0
        for number, item in enumerate(pending, start=1):
            batch.append(item)
            chunks_in_batch += item.outcome.chunks
            if chunks_in_batch >= WRITE_BATCH_CHUNKS or len(batch) >= WRITE_BATCH_FILES or number == len(pending):
                embedded = report.embedded_chunks
                vectors = self._chunk_and_embed(batch, texts, report, advance)
                self._write_batch(batch, vectors, index, report)
                # the batch's chunks that needed no embedding count now, at their commit
                advance(chunks_in_batch - (report.embedded_chunks - embedded))
                batch, chunks_in_batch = [], 0

    def _write_batch(
        self,
        batch: list[_Pending],
        vectors: dict[str, list[float]],
        index: dict[str, RecordMeta],
        report: IngestReport,
    ) -> None:
        self.store.put_documents(
            [
                (
                    record,
                    item.chunks[record.id],
                    [vectors[h] for h in item.hashes[record.id]],
                    item.hashes[record.id],
                )
                for item in batch
                for record in item.records
            ]
        )
        for item in batch:
            previous = {rid for rid, meta in index.items() if meta.source_path == str(item.unit.path)}
            for record in item.records:
                if record.id not in index:
                    report.added += 1
                elif index[record.id].content_hash != record.content_hash:
                    report.updated += 1
                else:
                    report.unchanged += 1
                report.redacted += record.redactions
                item.outcome.records.append(record.id)
            for gone in previous - {r.id for r in item.records}:
                self.store.delete_record(gone)
                report.removed += 1
            item.outcome.status = "updated" if any(r.id in index for r in item.records) else "added"
            report.files.append(item.outcome)

    def _prune(self, roots: list[Path], units: list[Unit], index: dict[str, RecordMeta], report: IngestReport) -> None:
        present = {str(u.path) for u in units if u.path.exists() and not u.refused}
        for rid, meta in index.items():
            source = Path(meta.source_path)
            if str(source) in present:
                continue
            if any(source == root or root in source.parents for root in roots):
                self.store.delete_record(rid)
                report.removed += 1
                report.files.append(FileOutcome(path=str(source), status="removed", records=[rid]))


def kind_matches(stored: list[RecordMeta], options: ParseOptions) -> bool:
    """An explicit --kind that differs from what is stored forces a re-parse."""
    return options.kind is None or all(m.kind == options.kind for m in stored)
