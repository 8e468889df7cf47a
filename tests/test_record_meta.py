"""Record metadata is typed everywhere but in the store, which keeps Chroma's flat form: stores written before
``RecordMeta`` existed still read, and a failure of Chroma becomes the project's error with the same message."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from ingest.pipeline import Ingestor
from kb.clients.store import open_store
from kb.clients.store_meta import (
    chunk_metadata,
    decode_chunk_meta,
    decode_record_meta,
    encode_record_meta,
    record_metadata,
)
from kb.core.errors import StoreError
from kb.core.models import Chunk, ChunkMeta, Kind, Record, RecordMeta
from kb.core.settings import Settings
from kb.retrieval.keyword import KeywordIndex
from kb.retrieval.search import Query, Searcher
from tests.test_pipeline import write_pm

#: a record's metadata exactly as the store writes it to Chroma (and has since before RecordMeta)
FLAT: dict[str, Any] = {
    "kind": "postmortem",
    "title": "Checkout 502s after deploy",
    "source_key": "/data/postmortems/checkout.md",
    "source_path": "/data/postmortems/checkout.md",
    "content_hash": "abc123",
    "chunks": 4,
    "redactions": 1,
    "date_ord": 20240905,
    "services": "checkout|payments-gateway",
    "severity": "SEV2",
    "alerts": "KubePodCrashLooping|HighErrorRate",
    "errors": "502 Bad Gateway",
    "supersedes": "",
    "filler": "",
    "redirect": "",
}

TYPED = RecordMeta(
    id="checkout",
    kind=Kind.postmortem,
    title="Checkout 502s after deploy",
    source_key="/data/postmortems/checkout.md",
    source_path="/data/postmortems/checkout.md",
    content_hash="abc123",
    chunks=4,
    redactions=1,
    date=dt.date(2024, 9, 5),
    services=["checkout", "payments-gateway"],
    severity="SEV2",
    alerts=["KubePodCrashLooping", "HighErrorRate"],
    errors=["502 Bad Gateway"],
    supersedes="",
)


def test_the_flat_form_decodes_to_typed_fields_and_encodes_back_unchanged() -> None:
    assert decode_record_meta("checkout", FLAT) == TYPED
    assert encode_record_meta(TYPED) == FLAT


def test_empty_and_missing_values_decode_to_their_defaults() -> None:
    older = {k: v for k, v in FLAT.items() if k not in ("supersedes", "errors")}  # keys a first store lacked
    meta = decode_record_meta("x", {**older, "date_ord": 0, "services": "", "severity": "", "alerts": ""})
    assert (meta.date, meta.services, meta.severity, meta.alerts, meta.errors, meta.supersedes) == (
        None,
        [],
        None,
        [],
        [],
        "",
    )


RECORD = Record(
    id="checkout",
    kind=Kind.postmortem,
    title=FLAT["title"],
    source_path=FLAT["source_path"],
    source_key=FLAT["source_key"],
    format="markdown",
    content_hash="abc123",
    text="...",
    services=["checkout", "payments-gateway"],
    alerts=["KubePodCrashLooping", "HighErrorRate"],
    error_strings=["502 Bad Gateway"],
    severity="SEV2",
    date=dt.date(2024, 9, 5),
    redactions=1,
)

#: a chunk's metadata exactly as the store writes it to Chroma
CHUNK_FLAT: dict[str, Any] = {
    "record_id": "checkout",
    "content_hash": "abc123",
    "kind": "postmortem",
    "title": "Checkout 502s after deploy",
    "section": "root_cause",
    "heading": "Root cause",
    "start": 10,
    "end": 80,
    "text_hash": "t1",
    "severity": "SEV2",
    "date_ord": 20240905,
    "services": "checkout|payments-gateway",
    "source_path": "/data/postmortems/checkout.md",
    "svc:checkout": 1,
    "svc:payments-gateway": 1,
}


def test_a_record_is_stored_in_the_same_flat_form_as_before() -> None:
    record = RECORD
    assert record_metadata(record, 4) == FLAT
    long = record.model_copy(update={"alerts": [f"A{i}" for i in range(30)], "error_strings": ["e" * 300]})
    flat = record_metadata(long, 4)
    assert flat["alerts"] == "|".join(f"A{i}" for i in range(20)) and flat["errors"] == "e" * 120


def test_a_chunk_is_stored_in_the_same_flat_form_as_before_and_decodes() -> None:
    chunk = Chunk(
        id="checkout:abc:0",
        record_id="checkout",
        section="root_cause",
        heading="Root cause",
        start=10,
        end=80,
        text="x" * 70,
    )
    assert chunk_metadata(RECORD, chunk, "t1") == CHUNK_FLAT
    assert decode_chunk_meta(CHUNK_FLAT) == ChunkMeta(
        record_id="checkout",
        content_hash="abc123",
        text_hash="t1",
        title="Checkout 502s after deploy",
        section="root_cause",
        heading="Root cause",
        start=10,
        end=80,
    )


def test_a_store_written_in_the_flat_form_reads_and_searches(fake_kb: Ingestor, tmp_path: Path) -> None:
    docs = tmp_path / "docs" / "postmortems"
    write_pm(docs, "a.md", "Checkout 502", "checkout", "KubePodCrashLooping fired for checkout", "bad env var")
    fake_kb.run([docs.parent])
    store = fake_kb.store
    # rewrite the record's entry by hand, as a store of an earlier version holds it
    stored = store._records.get(ids=["a"], include=["metadatas"])["metadatas"][0]
    flat = {**FLAT, "content_hash": stored["content_hash"], "chunks": stored["chunks"]}
    flat.pop("supersedes")
    store._records.update(ids=["a"], metadatas=[flat])
    store.bump_version()
    meta = store.record_index()["a"]
    assert meta.date == dt.date(2024, 9, 5) and meta.services == ["checkout", "payments-gateway"]
    assert meta.alerts == ["KubePodCrashLooping", "HighErrorRate"] and meta.supersedes == ""

    directory = tmp_path / "kw"
    index = KeywordIndex(store, directory, refresh_s=0)
    top = Searcher(store, fake_kb.embedding, index).search(Query("crash looping", k=1, services=("checkout",)))
    assert top[0].record.id == "a" and top[0].record.date == dt.date(2024, 9, 5)
    assert top[0].record.services == ["checkout", "payments-gateway"]
    fresh = KeywordIndex(store, directory)  # loads the saved index, which keeps the flat form
    fresh.ensure_fresh()
    assert fresh.record_meta == index.record_meta


class _Broken:
    def __getattr__(self, name: str) -> Any:
        def fail(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("disk I/O error")

        return fail


def test_chroma_failures_become_store_errors_with_what_failed(tmp_path: Path) -> None:
    store = open_store(Settings(data_dir=tmp_path / "kb", _env_file=None), "hashing-64")  # type: ignore[call-arg]
    store._chunks = _Broken()
    store._records = _Broken()
    with pytest.raises(StoreError, match=r"^cannot count chunks: disk I/O error$"):
        store.count_chunks()
    with pytest.raises(StoreError, match=r"^cannot read records: disk I/O error$"):
        store.get_record_json("a")
    with pytest.raises(StoreError, match=r"^search failed: disk I/O error$"):
        store.query([0.0] * 64, 3, within=["a:1:0"])  # the retry without ids fails the same way
    with pytest.raises(StoreError, match=r"^cannot read the store: disk I/O error$"):
        store.record_index()
