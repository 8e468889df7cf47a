"""The store's metadata codec: what Chroma keeps beside a chunk or a record, in its flat form.

Chroma metadata values are scalars, so lists are pipe-joined, dates are YYYYMMDD integers (``date_ord``)
and each service of a chunk is a boolean key (``service_key``) that filters (``SearchFilters``) test. The
store writes and reads this form, and the keyword index caches it; the code above reads ``ChunkMeta`` and
``RecordMeta``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from kb.core.models import Chunk, ChunkMeta, Kind, Record, RecordMeta


@dataclass(frozen=True)
class SearchFilters:
    """Filters applied inside the store's query, not after it."""

    kinds: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    since: date | None = None
    until: date | None = None

    def to_where(self) -> dict[str, Any] | None:
        """The Chroma ``where`` clause for these filters."""
        parts: list[dict[str, Any]] = []
        if self.kinds:
            parts.append({"kind": {"$in": list(self.kinds)}})
        if self.services:
            ors = [{service_key(s): 1} for s in self.services]
            parts.append(ors[0] if len(ors) == 1 else {"$or": ors})
        if self.severities:
            parts.append({"severity": {"$in": list(self.severities)}})
        if self.since is not None:
            parts.append({"date_ord": {"$gte": date_ord(self.since)}})
        if self.until is not None:
            parts.append({"date_ord": {"$lte": date_ord(self.until)}})
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else {"$and": parts}


def service_key(service: str) -> str:
    """The boolean metadata key that marks a chunk of a document about ``service``."""
    return "svc:" + service.strip().lower()


def date_ord(day: date | None) -> int:
    """A date as the store keeps it, so that filters can compare it: YYYYMMDD, 0 when unknown."""
    return int(day.strftime("%Y%m%d")) if day else 0


def date_of(number: int) -> date | None:
    return date(number // 10000, number // 100 % 100, number % 100) if number else None


def _joined(values: Sequence[str]) -> str:
    return "|".join(values)


def _split(value: object) -> list[str]:
    return [v for v in str(value or "").split("|") if v]


def chunk_metadata(record: Record, chunk: Chunk, text_hash: str) -> dict[str, Any]:
    """The flat metadata stored with a chunk: its place, and the record fields filters need."""
    meta: dict[str, Any] = {
        "record_id": record.id,
        "content_hash": record.content_hash,
        "kind": record.kind.value,
        "title": record.title,
        "section": chunk.section,
        "heading": chunk.heading,
        "start": chunk.start,
        "end": chunk.end,
        "text_hash": text_hash,
        "severity": record.severity or "",
        "date_ord": date_ord(record.date),
        "services": _joined(record.services),
        "source_path": record.source_path,
    }
    for service in record.services:
        meta[service_key(service)] = 1
    return meta


def decode_chunk_meta(flat: Mapping[str, Any]) -> ChunkMeta:
    """A chunk's place and version from the flat metadata Chroma keeps with it."""
    return ChunkMeta(
        record_id=str(flat.get("record_id", "")),
        content_hash=str(flat.get("content_hash", "")),
        text_hash=str(flat.get("text_hash", "")),
        title=str(flat.get("title", "")),
        section=str(flat.get("section", "")),
        heading=str(flat.get("heading", "")),
        start=int(flat.get("start", 0)),
        end=int(flat.get("end", 0)),
    )


def record_meta(record: Record, chunks: int) -> RecordMeta:
    """What the store keeps beside a record: what result lists show and filters need."""
    return RecordMeta(
        id=record.id,
        kind=record.kind,
        title=record.title,
        source_key=record.source_key,
        source_path=record.source_path,
        content_hash=record.content_hash,
        chunks=chunks,
        redactions=record.redactions,
        date=record.date,
        services=record.services,
        severity=record.severity,
        alerts=record.alerts[:20],
        errors=[e[:120] for e in record.error_strings[:20]],
        supersedes=record.supersedes,  # set by ingest only for a verified revision (see ingest.pipeline)
        filler=record.filler,
        redirect=record.redirect,
    )


def encode_record_meta(meta: RecordMeta) -> dict[str, Any]:
    """A record's metadata in the flat form Chroma keeps (its id is the entry's id, not part of it)."""
    return {
        "kind": meta.kind.value,
        "title": meta.title,
        "source_key": meta.source_key,
        "source_path": meta.source_path,
        "content_hash": meta.content_hash,
        "chunks": meta.chunks,
        "redactions": meta.redactions,
        "date_ord": date_ord(meta.date),
        "services": _joined(meta.services),
        "severity": meta.severity or "",
        "alerts": _joined(meta.alerts),
        "errors": _joined(meta.errors),
        "supersedes": meta.supersedes,
        "filler": meta.filler,
        "redirect": meta.redirect,
    }


def decode_record_meta(record_id: str, flat: Mapping[str, Any]) -> RecordMeta:
    """A record's metadata from the flat form Chroma keeps (keys a store of an older version lacks get their
    defaults)."""
    return RecordMeta(
        id=record_id,
        kind=Kind(str(flat.get("kind") or Kind.document.value)),
        title=str(flat.get("title", record_id)),
        source_key=str(flat.get("source_key") or ""),
        source_path=str(flat.get("source_path") or ""),
        content_hash=str(flat.get("content_hash") or ""),
        chunks=int(flat.get("chunks") or 0),
        redactions=int(flat.get("redactions") or 0),
        date=date_of(int(flat.get("date_ord") or 0)),
        services=_split(flat.get("services")),
        severity=str(flat.get("severity") or "") or None,
        alerts=_split(flat.get("alerts")),
        errors=_split(flat.get("errors")),
        supersedes=str(flat.get("supersedes") or ""),
        filler=str(flat.get("filler") or ""),
        redirect=str(flat.get("redirect") or ""),
    )


def record_metadata(record: Record, chunks: int) -> dict[str, Any]:
    """The flat metadata stored with a record."""
    return encode_record_meta(record_meta(record, chunks))
