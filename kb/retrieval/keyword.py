"""Keyword (BM25) search, and an in-memory view of the store's chunks and records for fast queries.

Chroma keeps the vectors and texts; this index is derived from them: every chunk's text and place and
every record's metadata, plus a bm25s index built with the SRE analyzer. It is rebuilt when the store's
version stamp changes (any ingest, update or prune, by any process; checked at most once per
``refresh_s``) and saved next to the embedded store (or in the local data directory in server mode), so
a new query process loads it instead of re-reading and re-analysing every chunk. A snapshot is one
consistent picture: a passage is used only when its content hash matches its record's.
"""

from __future__ import annotations

import json
import logging
import math
import re
import shutil
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import bm25s
import numpy as np

from kb.clients.store import Store
from kb.clients.store_meta import SearchFilters, decode_record_meta, encode_record_meta
from kb.core.models import Chunk, ChunkMeta, RecordMeta
from kb.retrieval.headings import Embed, HeadingVectors
from kb.text.analysis import DEFAULT, AnalyzerOptions, analyze, whole_term

_WORD = re.compile(r"\S+")
_NON_ALNUM = re.compile(r"[^a-z0-9]")

FORMAT = 6  # bump whenever what is indexed or saved changes (index_text, analyzer code, file layout)
logging.getLogger("bm25s").setLevel(logging.WARNING)


@dataclass
class KeywordHit:
    position: int
    score: float


#: how much a chunk's title-and-heading field adds to its body score (docs/retrieval.md: 0.1-0.3 helped BM25
#: and the fused ranking on every labelled set, 0.5 cost the questions and the full alert texts)
FIELD_WEIGHT = 0.2


def index_text(text: str, meta: ChunkMeta) -> str:
    """What BM25 sees for a chunk: its document title (twice: a title says what the whole document is
    about, measured better than once or three times), its section heading, then the text."""
    return "\n".join(x for x in (meta.title, meta.title, meta.heading, text) if x)


def field_text(meta: ChunkMeta) -> str:
    """A chunk's title field: its document title and section heading, scored as a short field of their own
    (BM25F-like), so the section whose heading says what the query asks ranks by its heading too."""
    return "\n".join(x for x in (meta.title, meta.heading) if x)


def _well_formed(rows: dict[str, Any], count: int) -> bool:
    """Whether saved rows have the shape and types this index keeps (its chunks are made from them unchecked)."""
    columns: list[Any] = [rows.get(k) for k in ("chunk_ids", "texts", "places", "records")]
    ids, texts, places, records = columns
    return (
        all(isinstance(c, list) and all(isinstance(x, str) for x in c) for c in (ids, texts, records))
        and isinstance(places, list) and len(ids) == len(texts) == len(places) == count
        and all(isinstance(p, list) and len(p) == 4 and all(isinstance(x, str) for x in p[:2])
                and all(type(x) is int for x in p[2:]) for p in places)
    )


class KeywordIndex:
    """BM25 over every chunk of one store, and the chunks themselves, kept in step with the store."""

    def __init__(
        self,
        store: Store,
        directory: Path | None,
        options: AnalyzerOptions = DEFAULT,
        k1: float = 1.2,
        b: float = 0.5,
        refresh_s: float = 1.0,
        embed: Embed | None = None,
        embed_model: str = "",
    ) -> None:
        self.store = store
        self.embed = embed  # embeds heading texts for the dense title field (none: no such field)
        self.embed_model = embed_model  # whose vectors those are
        self.headings = HeadingVectors.empty()
        self.directory = directory
        self.options = options
        self.k1, self.b = k1, b
        self.refresh_s = refresh_s
        self.version: str | None = None
        self._checked = 0.0
        self._lock = threading.Lock()
        self._bm25: Any = None
        self._fields: Any = None  # BM25 over each chunk's title and heading
        self.chunk_ids: list[str] = []
        self.texts: list[str] = []
        self.places: list[tuple[str, str, int, int]] = []  # section, heading, start, end
        self.record_of: np.ndarray = np.zeros(0, dtype=np.int32)
        self.records: list[str] = []
        self.record_meta: dict[str, RecordMeta] = {}
        self.position: dict[str, int] = {}
        self._columns: dict[str, np.ndarray] = {}
        self._service_rows: dict[str, np.ndarray] = {}
        self._service_keys: dict[str, str] = {}

    # -- keeping in step --------------------------------------------------------------------

    def ensure_fresh(self, force: bool = False) -> None:
        """Load or rebuild when the store changed since this index was built."""
        now = time.monotonic()
        if not force and self.version is not None and now - self._checked < self.refresh_s:
            return
        current = self.store.version()
        self._checked = now
        if current == self.version:
            return
        with self._lock:
            if current == self.version:
                return
            if not self._load(current):
                self._build(current)
                self._save()

    def rebuild(self) -> None:
        """Build from the store and save, whatever is saved (an index saved for the current version can still
        be wrong: written by hand, or by a writer killed before it changed the version)."""
        with self._lock:
            self._build(self.store.version())
            self._save()
        self._checked = time.monotonic()

    def _build(self, version: str) -> None:
        record_meta = self.store.record_index()
        corpus: list[list[str]] = []
        fields: list[list[str]] = []
        headings: list[str] = []
        chunk_ids: list[str] = []
        texts: list[str] = []
        places: list[tuple[str, str, int, int]] = []
        record_of: list[int] = []
        record_pos: dict[str, int] = {}
        for cid, text, meta in self.store.iter_chunks():
            rid = meta.record_id
            current = record_meta.get(rid)
            if current is None or current.content_hash != meta.content_hash:
                continue  # an orphan or a version being replaced
            record_of.append(record_pos.setdefault(rid, len(record_pos)))
            chunk_ids.append(cid)
            texts.append(text)
            places.append((meta.section, meta.heading, meta.start, meta.end))
            corpus.append(analyze(index_text(text, meta), self.options) or ["_"])
            headings.append(field_text(meta))
            fields.append(analyze(headings[-1], self.options) or ["_"])
        bm25 = field_bm25 = None
        if corpus:
            bm25 = bm25s.BM25(k1=self.k1, b=self.b)
            bm25.index(corpus, show_progress=False)
            field_bm25 = bm25s.BM25(k1=self.k1, b=0.75)  # titles and headings vary little in length
            field_bm25.index(fields, show_progress=False)
        embed = self.embed
        previous = self.headings if len(self.headings) else HeadingVectors.saved(self.directory, self.embed_model)
        self.headings = HeadingVectors.build(headings, embed, previous) if embed else HeadingVectors.empty()
        self._set(version, (bm25, field_bm25), chunk_ids, texts, places, np.asarray(record_of, dtype=np.int32),
                  list(record_pos), record_meta)

    def _set(
        self,
        version: str,
        indexes: tuple[Any, Any],
        chunk_ids: list[str],
        texts: list[str],
        places: list[tuple[str, str, int, int]],
        record_of: np.ndarray,
        records: list[str],
        record_meta: dict[str, RecordMeta],
    ) -> None:
        (self._bm25, self._fields), self.chunk_ids, self.texts, self.places = indexes, chunk_ids, texts, places
        self.record_of, self.records, self.record_meta = record_of, records, record_meta
        self.position = {cid: i for i, cid in enumerate(chunk_ids)}
        metas = [record_meta.get(rid) for rid in records]
        self._columns = {
            "kind": np.array([m.kind.value if m else "" for m in metas], dtype=object),
            "severity": np.array([(m.severity or "") if m else "" for m in metas], dtype=object),
            "day": np.array([m.date.toordinal() if m and m.date else 0 for m in metas], dtype=np.int64),
        }
        self._service_rows = {}
        for row, meta in enumerate(metas):
            for service in meta.services if meta else ():
                self._service_rows.setdefault(service.lower(), np.zeros(len(records), dtype=bool))[row] = True
        # names of more than one part, by their whole-identifier index token (payments-gateway -> paymentsgateway)
        self._service_keys = {
            _NON_ALNUM.sub("", name): whole_term(name, self.options)
            for name in self._service_rows
            if _NON_ALNUM.search(name) and len(name) > 3
        }
        self.version = version

    def _signature(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": self.version, "options": self.options.__dict__, "k1": self.k1, "b": self.b}

    def _save(self) -> None:
        if self.directory is None:
            return
        tmp = self.directory.with_name(self.directory.name + f".tmp{threading.get_ident()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if self._bm25 is not None:
            self._bm25.save(str(tmp / "bm25"))
            self._fields.save(str(tmp / "fields"))
        np.save(tmp / "record_of.npy", self.record_of)
        self.headings.save(tmp, self.embed_model)
        (tmp / "rows.json").write_text(
            json.dumps(
                {
                    "chunk_ids": self.chunk_ids,
                    "texts": self.texts,
                    "places": self.places,
                    "records": self.records,
                    "headings": self.headings.texts,
                    "record_meta": {rid: encode_record_meta(m) for rid, m in self.record_meta.items()},
                }
            )
        )
        (tmp / "meta.json").write_text(json.dumps(self._signature()))
        old = self.directory.with_name(self.directory.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        try:
            if self.directory.exists():
                self.directory.rename(old)
            tmp.rename(self.directory)
        except OSError:  # another process saved the same version at the same moment
            shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)

    def saved_version(self) -> str | None:
        """The store version the saved index was built from (None when nothing is saved)."""
        if self.directory is None or not (self.directory / "meta.json").is_file():
            return None
        try:
            return str(json.loads((self.directory / "meta.json").read_text()).get("version"))
        except (OSError, ValueError):
            return None

    def _load(self, version: str) -> bool:
        if self.directory is None or not (self.directory / "meta.json").is_file():
            return False
        try:
            meta = json.loads((self.directory / "meta.json").read_text())
            if meta != {**self._signature(), "version": version}:
                return False
            rows = json.loads((self.directory / "rows.json").read_text())
            bm25 = fields = None
            if (self.directory / "bm25").exists():
                bm25 = bm25s.BM25.load(str(self.directory / "bm25"))
                fields = bm25s.BM25.load(str(self.directory / "fields"))
            record_of = np.load(self.directory / "record_of.npy")
            record_meta = {rid: decode_record_meta(rid, flat) for rid, flat in rows["record_meta"].items()}
            headings = HeadingVectors.load(self.directory, rows["headings"])
        except (OSError, ValueError, KeyError):
            return False
        if not _well_formed(rows, len(record_of)):
            return False  # not as this code saves it: built again from the store
        if self.embed is not None and (headings is None or (rows["chunk_ids"] and not len(headings))):
            return False  # saved by a process with no embedding model: build with the heading vectors
        self.headings = headings or HeadingVectors.empty()
        places = [tuple(p) for p in rows["places"]]
        self._set(version, (bm25, fields), rows["chunk_ids"], rows["texts"], places, record_of,  # type: ignore[arg-type]
                  rows["records"], record_meta)
        return True

    # -- reading ----------------------------------------------------------------------------

    def chunk(self, position: int) -> Chunk:
        """The chunk at ``position`` from the index's own rows, checked when built or loaded, not again (a search
        makes thousands; validating each cost a tenth of a `kb similar`)."""
        section, heading, start, end = self.places[position]
        return Chunk.model_construct(
            id=self.chunk_ids[position],
            record_id=self.records[self.record_of[position]],
            section=section,
            heading=heading,
            start=start,
            end=end,
            text=self.texts[position],
        )

    def known_values(self) -> dict[str, list[str]]:
        """The services and severities that stored documents declare, sorted (for hints on filters)."""
        self.ensure_fresh()
        severities = {str(v) for v in self._columns["severity"]} if self.records else set()
        return {"services": sorted(self._service_rows), "severities": sorted(v for v in severities if v)}

    def passage_share(self, term: str) -> float:
        """The share of passages whose index text holds an analysed term (0.0 when none does)."""
        self.ensure_fresh()
        bm25 = self._bm25
        if bm25 is None or term not in bm25.vocab_dict:
            return 0.0
        column = bm25.vocab_dict[term]
        indptr = bm25.scores["indptr"]
        return float(indptr[column + 1] - indptr[column]) / max(1, int(bm25.scores["num_docs"]))

    def rarity(self, term: str) -> float:
        """How telling a term is: -log of its passage share (rarer than 0.2% of passages counts as 0.2%)."""
        return -math.log(max(self.passage_share(term), 0.002))

    def covered(self, words: set[str], found: set[str]) -> float:
        """The share of the rarity of ``words`` that ``found`` holds (words that every passage uses carry
        none: then 1.0 when ``found`` holds them all, else 0.0)."""
        total = sum(self.rarity(w) for w in words)
        if not total:
            return 1.0 if words <= found else 0.0
        return sum(self.rarity(w) for w in words & found) / total

    def mask(self, filters: SearchFilters | None) -> np.ndarray | None:
        """1.0 for chunks whose record passes the filters, 0.0 otherwise (vectorised per record)."""
        if filters is None or filters == SearchFilters():
            return None
        cols = self._columns
        allowed = np.ones(len(self.records), dtype=bool)
        if filters.kinds:
            allowed &= np.isin(cols["kind"], list(filters.kinds))
        if filters.severities:
            allowed &= np.isin(cols["severity"], list(filters.severities))
        if filters.since is not None:
            allowed &= cols["day"] >= filters.since.toordinal()
        if filters.until is not None:
            allowed &= cols["day"] <= filters.until.toordinal()
        if filters.services:
            any_service = np.zeros(len(self.records), dtype=bool)
            for service in filters.services:
                any_service |= self._service_rows.get(service, np.zeros(len(self.records), dtype=bool))
            allowed &= any_service
        return allowed.astype(np.float32)[self.record_of]

    def allowed_ids(self, filters: SearchFilters, limit: int) -> list[str] | None:
        """Ids of the chunks passing the filters, or None when there are more than ``limit``."""
        mask = self.mask(filters)
        if mask is None:
            return None
        positions = np.flatnonzero(mask)
        if len(positions) > limit:
            return None
        return [self.chunk_ids[i] for i in positions]

    def service_tokens(self, text: str) -> list[str]:
        """The index tokens of known service names that the text spells out in separate words ("payments
        gateway", "orders db", "session cache" for payments-gateway, orders-db, session-cache), so a query
        typed that way matches the name as the documents write it."""
        if not self._service_keys:
            return []
        words = [w for w in (_NON_ALNUM.sub("", m.group(0).lower()) for m in _WORD.finditer(text)) if w]
        found = []
        for n in range(2, 5):
            for i in range(len(words) - n + 1):
                key = "".join(words[i : i + n])
                if key in self._service_keys:
                    found.append(self._service_keys[key])
        return found

    def search(
        self, text: str, k: int, filters: SearchFilters | None = None, whole_identifiers: bool = False
    ) -> list[KeywordHit]:
        """The ``k`` best chunks for the text (only those passing the filters); with ``whole_identifiers``
        the text's identifiers are searched whole, not also by their parts (for a whole document as query)."""
        self.ensure_fresh()
        if self._bm25 is None:
            return []
        options = replace(self.options, identifier_parts=False) if whole_identifiers else self.options
        tokens = analyze(text, options) + self.service_tokens(text)
        tokens = [t for t in tokens if t in self._bm25.vocab_dict]
        if not tokens:
            return []
        mask = self.mask(filters)
        scores = self._bm25.get_scores(tokens, weight_mask=mask)
        in_fields = [t for t in tokens if t in self._fields.vocab_dict]
        if in_fields and FIELD_WEIGHT:
            scores = scores + FIELD_WEIGHT * self._fields.get_scores(in_fields, weight_mask=mask)
        n = min(k, int(np.count_nonzero(scores > 0)))
        if n == 0:
            return []
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top])]
        return [KeywordHit(int(i), float(scores[i])) for i in top]
