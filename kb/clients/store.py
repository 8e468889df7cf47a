"""The one module that talks to Chroma.

Two collections: ``<prefix>_chunks`` holds one vector per chunk (through llama-index's
``ChromaVectorStore``), ``<prefix>_records`` holds one entry per document: the whole record as JSON
and the mean of its chunk vectors. The record entry is the commit point of a document: chunks are
written first under ids that carry the new content hash, then the record, then the old chunks are
deleted. A reader only trusts chunks whose content hash matches their record, so a document is seen
whole or not at all, and chunks left behind by a killed writer are ignored and later swept.

Every write changes the store's version stamp when it is done, which is how readers (the keyword index)
learn of it. A write first marks itself in progress; a writer killed between its commit and the new stamp
leaves the mark, and the next writer (``finish_interrupted_write``) changes the stamp for it.

The same code runs on an embedded ``PersistentClient`` (default) and on a Chroma server
(``KB_CHROMA_URL``). Embedded stores are not safe for two writing processes, so writes take a file
lock next to the store.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import chromadb
import numpy as np
from chromadb.config import Settings as ChromaSettings
from filelock import FileLock, Timeout

from kb.clients.files import fresh_connection
from kb.clients.store_meta import SearchFilters, chunk_metadata, decode_chunk_meta, decode_record_meta, record_metadata
from kb.core.errors import ModelMismatch, NotFound, StoreBusy, StoreError, StoreUnavailable
from kb.core.models import Chunk, ChunkMeta, Record, RecordMeta
from kb.core.settings import Settings

if TYPE_CHECKING:
    from llama_index.core.schema import BaseNode
    from llama_index.vector_stores.chroma import ChromaVectorStore

log = logging.getLogger(__name__)


#: HNSW settings of the vector collections. The search list is twice the candidates a query asks for (200):
#: with Chroma's default (100, raised to the 200 asked for) about 0.5% of the true 200 nearest chunks were
#: missed, varying with how the graph was built and loaded; 400 finds all but 0.02% (docs/retrieval.md).
EF_SEARCH = 400
EF_CONSTRUCTION = 200


@contextlib.contextmanager
def _translated(error: Callable[[Exception], StoreError]) -> Iterator[None]:
    """The one place where a failure of Chroma (its own errors, or sqlite's or HTTP's under it) becomes the
    project's error that ``error`` makes of it; the project's own store errors pass through unchanged."""
    try:
        yield
    except StoreError:
        raise
    except Exception as exc:
        raise error(exc) from exc


class Store:
    """A knowledge base's vectors and records in Chroma, embedded or on a server."""

    def __init__(self, settings: Settings, model_id: str) -> None:
        self.settings = settings
        self.model_id = model_id
        self.location = settings.store_location
        self._client = self._connect(settings)
        try:
            with self._failing("cannot read the batch size"):
                self.max_batch = int(self._client.get_max_batch_size())
        except StoreError:  # older servers do not say; their documented floor
            self.max_batch = 1000
        self.max_batch = max(1, min(self.max_batch, 2000))
        prefix = settings.collection_prefix
        self._chunks = self._collection(f"{prefix}_chunks")
        self._records = self._collection(f"{prefix}_records")
        self._state = self._collection(f"{prefix}_state")

    @cached_property
    def vector_store(self) -> ChromaVectorStore:
        """The chunks collection as a llama-index vector store (what writes go through; made on first write, so
        a process that only reads does not import llama-index)."""
        from llama_index.vector_stores.chroma import ChromaVectorStore

        return ChromaVectorStore(chroma_collection=self._chunks)

    # -- connection -------------------------------------------------------------------------

    def _connect(self, settings: Settings) -> Any:
        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        if settings.chroma_url:
            url = urlparse(settings.chroma_url)
            if not url.hostname:
                raise StoreError(f"KB_CHROMA_URL={settings.chroma_url!r} is not a URL like http://host:8000")
            unreachable = f"Chroma server {settings.chroma_url} is unreachable"
            with _translated(lambda exc: StoreUnavailable(f"{unreachable}: {exc}")):
                client = chromadb.HttpClient(
                    host=url.hostname,
                    port=url.port or (443 if url.scheme == "https" else 8000),
                    ssl=url.scheme == "https",
                    settings=chroma_settings,
                )
                client.heartbeat()
            return client
        path = settings.data_dir / "chroma"
        path.mkdir(parents=True, exist_ok=True)
        failed = f"{path}: cannot open the embedded store"
        with _translated(lambda exc: StoreError(f"{failed}: {exc}")), fresh_connection(settings):
            return chromadb.PersistentClient(path=str(path), settings=chroma_settings)

    @staticmethod
    def _raise_ef_search(collection: Any, name: str) -> None:
        """Search a store made before with the larger list; a database another writer holds for a moment is
        tried again, and a store that cannot change it (some servers) still answers, a little less exactly."""
        for pause in (0.2, 1.0, None):
            try:
                with _translated(StoreError):
                    collection.modify(configuration={"hnsw": {"ef_search": EF_SEARCH}})
                return
            except StoreError as exc:
                if pause is None or "locked" not in str(exc):
                    log.warning("could not raise ef_search of %s: %s", name, exc)
                    return
                time.sleep(pause)

    def _collection(self, name: str) -> Any:
        with self._failing(f"cannot open collection {name}"):
            collection = self._client.get_or_create_collection(
                name,
                metadata={"hnsw:space": "cosine", "embed_model": self.model_id},
                configuration={"hnsw": {"space": "cosine", "ef_construction": EF_CONSTRUCTION, "ef_search": EF_SEARCH}},
            )
        hnsw = (getattr(collection, "configuration", None) or {}).get("hnsw") or {}
        if int(hnsw.get("ef_search") or EF_SEARCH) < EF_SEARCH:  # a store made before: search it as thoroughly
            self._raise_ef_search(collection, name)
        stored = (collection.metadata or {}).get("embed_model")
        if stored and stored != self.model_id:
            raise ModelMismatch(
                f"the store at {self.location} was built with the embedding model {stored}, "
                f"but {self.model_id} is configured; use the same model or a new data directory"
            )
        return collection

    def _wrap(self, exc: Exception, what: str) -> StoreError:
        if self.settings.chroma_url:
            return StoreUnavailable(f"{what}: Chroma server {self.settings.chroma_url}: {exc}")
        return StoreError(f"{what}: {exc}")

    def _failing(self, what: str) -> contextlib.AbstractContextManager[None]:
        """Chroma failures inside become a StoreError (StoreUnavailable for a server) saying ``what`` failed."""
        return _translated(lambda exc: self._wrap(exc, what))

    @contextlib.contextmanager
    def write_lock(self) -> Iterator[None]:
        """Serialise writers of an embedded store across processes; a server serialises itself."""
        if self.settings.chroma_url:
            yield
            return
        lock = FileLock(str(self.settings.data_dir / "write.lock"))
        try:
            lock.acquire(timeout=self.settings.lock_timeout_s)
        except Timeout as exc:
            raise StoreBusy(
                f"the store at {self.location} is busy: another process is writing to it "
                f"(waited {self.settings.lock_timeout_s:.0f}s); try again when it is done"
            ) from exc
        try:
            yield
        finally:
            lock.release()

    # -- records ----------------------------------------------------------------------------

    def record_index(self) -> dict[str, RecordMeta]:
        """Every stored record's metadata (id, source key, content hash, ...), by record id."""
        out: dict[str, RecordMeta] = {}
        for ids, metas in self._paged(self._records, include=["metadatas"]):
            for rid, meta in zip(ids, metas, strict=True):
                out[rid] = decode_record_meta(rid, meta or {})
        return out

    def get_record_json(self, record_id: str) -> str:
        """A record's stored JSON, unparsed."""
        with self._failing("cannot read records"):
            got = self._records.get(ids=[record_id], include=["documents"])
        if not got["ids"]:
            raise NotFound(f"no document with id '{record_id}'")
        return str(got["documents"][0])

    def get_record(self, record_id: str) -> Record:
        return Record.model_validate_json(self.get_record_json(record_id))

    def put_documents(
        self, items: Sequence[tuple[Record, Sequence[Chunk], Sequence[Sequence[float]], Sequence[str]]]
    ) -> None:
        """Store several records at once; each is still seen whole or not at all.

        All chunks are written first (under ids carrying the new content hash, invisible to readers until
        their record says that hash), then the records (the commit point), then the version stamp changes,
        then the old chunks go.
        """
        from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

        nodes: list[BaseNode] = []
        rows: list[tuple[Record, list[float], int]] = []
        for record, chunks, vectors, text_hashes in items:
            for chunk, vector, text_hash in zip(chunks, vectors, text_hashes, strict=True):
                node = TextNode(
                    id_=chunk.id,
                    text=chunk.text,
                    metadata=chunk_metadata(record, chunk, text_hash),
                    embedding=list(vector),
                    start_char_idx=chunk.start,
                    end_char_idx=chunk.end,
                )
                node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=record.id)
                nodes.append(node)
            mean = np.mean(np.asarray(vectors, dtype=np.float32), axis=0) if len(vectors) else np.zeros(1)
            norm = float(np.linalg.norm(mean))
            rows.append((record, (mean / norm if norm > 0 else mean).tolist(), len(chunks)))
        if not rows:
            return
        paths = ", ".join(r.source_path for r, _v, _n in rows[:3])
        with self._failing(f"cannot store {paths}"):
            self._begin_write()
            for lo in range(0, len(nodes), self.max_batch):
                self.vector_store.add(nodes[lo : lo + self.max_batch])
            with_vectors = [r for r in rows if r[2]]
            without = [r for r in rows if not r[2]]
            for group, vectors_given in ((with_vectors, True), (without, False)):
                for lo in range(0, len(group), self.max_batch):
                    part = group[lo : lo + self.max_batch]
                    self._records.upsert(
                        ids=[r.id for r, _v, _n in part],
                        documents=[r.model_dump_json() for r, _v, _n in part],
                        embeddings=[v for _r, v, _n in part] if vectors_given else None,
                        metadatas=[record_metadata(r, n) for r, _v, n in part],
                    )
            self.bump_version()  # committed: readers may rebuild now; the old chunks are invisible to them
            for record, _v, _n in rows:
                self._chunks.delete(
                    where={"$and": [{"record_id": record.id}, {"content_hash": {"$ne": record.content_hash}}]}
                )

    def delete_record(self, record_id: str) -> None:
        """Remove a record (the commit point first) and then its chunks."""
        with self._failing(f"cannot delete {record_id}"):
            self._begin_write()
            self._records.delete(ids=[record_id])
            self.bump_version()
            self._chunks.delete(where={"record_id": record_id})

    def sweep_orphans(self) -> int:
        """Delete chunks whose record is gone or holds another version. Returns how many."""
        index = self.record_index()
        stale: list[str] = []
        for ids, metas in self._paged(self._chunks, include=["metadatas"]):
            for cid, meta in zip(ids, metas, strict=True):
                rec = index.get(str((meta or {}).get("record_id")))
                if rec is None or rec.content_hash != (meta or {}).get("content_hash"):
                    stale.append(cid)
        for lo in range(0, len(stale), self.max_batch):
            self._chunks.delete(ids=stale[lo : lo + self.max_batch])
        return len(stale)

    # -- version: changes whenever any document is committed or removed ----------------------

    def _begin_write(self) -> None:
        """Mark a write in progress (cleared by ``bump_version`` when the write is done)."""
        self._state.upsert(ids=["writing"], documents=["1"], embeddings=[[0.0]])

    def bump_version(self) -> str:
        """Mark the store as changed, so keyword indexes built from it know they are stale."""
        version = uuid.uuid4().hex
        self._state.upsert(ids=["version"], documents=[version], embeddings=[[0.0]])
        self._state.delete(ids=["writing"])
        return version

    def interrupted_write(self) -> bool:
        """Whether a write began and never changed the version stamp (its process was killed, or it is still
        running: only a holder of the write lock can tell these apart)."""
        with self._failing("cannot read the store version"):
            return bool(self._state.get(ids=["writing"], include=[])["ids"])

    def finish_interrupted_write(self) -> bool:
        """Change the version stamp for a write that was cut short after its commit, so readers see what it
        committed. Call with the write lock held. Returns whether there was one."""
        if not self.interrupted_write():
            return False
        self.bump_version()
        return True

    def version(self) -> str:
        """An opaque stamp that differs after every change; '' for a store never written to."""
        with self._failing("cannot read the store version"):
            got = self._state.get(ids=["version"], include=["documents"])
        return str(got["documents"][0]) if got["ids"] else ""

    # -- reading chunks ---------------------------------------------------------------------

    def iter_chunks(self, page: int = 2000) -> Iterator[tuple[str, str, ChunkMeta]]:
        """Every stored chunk as (id, text, metadata), page by page."""
        offset = 0
        while True:
            with self._failing("cannot read chunks"):
                got = self._chunks.get(include=["documents", "metadatas"], limit=page, offset=offset)
            if not got["ids"]:
                return
            for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
                yield cid, doc or "", decode_chunk_meta(meta or {})
            if len(got["ids"]) < page:
                return
            offset += page

    def record_vector(self, record_id: str) -> list[float]:
        """The mean vector of a record's chunks."""
        with self._failing("cannot read records"):
            got = self._records.get(ids=[record_id], include=["embeddings"])
        if not got["ids"]:
            raise NotFound(f"no document with id '{record_id}'")
        return [float(x) for x in got["embeddings"][0]]

    def embeddings_by_text_hash(self, text_hashes: Sequence[str]) -> dict[str, list[float]]:
        """Stored vectors of chunks with these text hashes, so unchanged texts are not re-embedded."""
        found: dict[str, list[float]] = {}
        wanted = list(dict.fromkeys(text_hashes))
        for lo in range(0, len(wanted), 500):
            batch = wanted[lo : lo + 500]
            with self._failing("cannot read chunks"):
                got = self._chunks.get(where={"text_hash": {"$in": batch}}, include=["embeddings", "metadatas"])
            for meta, vector in zip(got["metadatas"], got["embeddings"], strict=True):
                found.setdefault(str(meta["text_hash"]), [float(x) for x in vector])
        return found

    def query(
        self,
        vector: Sequence[float],
        k: int,
        filters: SearchFilters | None = None,
        within: Sequence[str] | None = None,
    ) -> list[tuple[str, float]]:
        """The ``k`` nearest chunks as (chunk id, cosine similarity), searched inside Chroma among the
        chunks that pass ``filters`` (a ``where`` clause) or among the chunk ids ``within`` (faster for a
        selective filter whose matching ids the caller already knows)."""
        if k <= 0 or (within is not None and not within):
            return []
        where = None if within is not None else (filters.to_where() if filters else None)
        try:
            with self._failing("search failed"):
                got = self._chunks.query(
                    query_embeddings=[list(vector)],
                    n_results=k,
                    where=where,
                    ids=list(within) if within is not None else None,
                    include=["distances"],
                )
        except StoreError:
            if within is not None:  # ids from a snapshot older than the store: filter by metadata instead
                return self.query(vector, k, filters, None)
            raise
        return [(cid, 1.0 - float(d)) for cid, d in zip(got["ids"][0], got["distances"][0], strict=True)]

    # -- stats ------------------------------------------------------------------------------

    def count_chunks(self) -> int:
        with self._failing("cannot count chunks"):
            return int(self._chunks.count())

    def count_records(self) -> int:
        with self._failing("cannot count records"):
            return int(self._records.count())

    def _paged(self, collection: Any, include: list[str], page: int = 2000) -> Iterator[tuple[list[str], list[Any]]]:
        offset = 0
        key = include[0]
        while True:
            with self._failing("cannot read the store"):
                got = collection.get(include=include, limit=page, offset=offset)
            ids = got["ids"]
            if not ids:
                return
            yield ids, got[key]
            if len(ids) < page:
                return
            offset += page


def open_store(settings: Settings, model_id: str) -> Store:
    """Open (creating if needed) the store the settings point at."""
    if not settings.chroma_url:
        Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    return Store(settings, model_id)
