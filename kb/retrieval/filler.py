"""Filler below content: how search orders the documents ingest marked as filler (``ingest.filler``).

A redirect stub, a page of links or an empty template says nothing of its own, so it is never shown above
a document that does: after fusion, content keeps its order and filler follows it, its score scaled by
``FILLER_WEIGHT``. A redirect stub is followed to its target: the target (found among the stored records by
the link's path) scores at least what the stub scored, so a query that names the stub's title reaches the
page that holds the content, and the stub is listed right after it, never above it. A stub whose target is
not among the results (a page outside the corpus) is the way to that page and keeps its place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import TypeVar
from urllib.parse import unquote, urlsplit

from kb.core.models import RecordMeta

#: the factor a filler document's fused score is multiplied by (it is listed after content in any case)
FILLER_WEIGHT = 0.1

T = TypeVar("T")


def _parts(path: str) -> list[str]:
    """A path's segments, lowercased, without its extension, '.' and '..'."""
    segments = [p for p in PurePosixPath(path.replace("\\", "/")).parts if p not in ("/", ".", "..", "")]
    if segments:
        segments[-1] = PurePosixPath(segments[-1]).stem  # page.md, page.html: the same page
    return [s.lower() for s in segments if s]


def resolve(target: str, source_path: str, metas: Mapping[str, RecordMeta]) -> str:
    """The id of the stored record a redirect's ``target`` names ('' when none): the record whose source
    path ends with the most of the target's path segments (the file name at least), the stub's own
    folder breaking ties; a bare record id also counts."""
    if not target:
        return ""
    path = unquote(urlsplit(target).path or target)
    wanted = _parts(path)
    if not wanted:
        return ""
    here = _parts(str(PurePosixPath(source_path).parent))
    best, best_key = "", (0, 0)
    for rid, meta in metas.items():
        if meta.source_path == source_path:
            continue
        have = _parts(meta.source_path) or [rid.lower()]
        n = 0
        while n < min(len(have), len(wanted)) and have[-1 - n] == wanted[-1 - n]:
            n += 1
        if n == 0 and rid.lower() != wanted[-1]:
            continue
        near = sum(1 for a, b in zip(have[:-1], here, strict=False) if a == b)
        key = (max(n, 1), near)
        if key > best_key:
            best, best_key = rid, key
    return best


_RESOLVED: dict[tuple[str, str], str] = {}
#: the metadata snapshot those answers hold for (the object itself: an id alone can be reused once it is freed)
_RESOLVED_FOR: list[Mapping[str, RecordMeta]] = [{}]


def _resolved(meta: RecordMeta, metas: Mapping[str, RecordMeta]) -> str:
    """``resolve`` for a stub, remembered for as long as the same snapshot of metadata is read."""
    if _RESOLVED_FOR[0] is not metas:
        _RESOLVED.clear()
        _RESOLVED_FOR[0] = metas
    key = (meta.redirect, meta.source_path)
    if key not in _RESOLVED:
        _RESOLVED[key] = resolve(meta.redirect, meta.source_path, metas)
    return _RESOLVED[key]


def shown_redirect(meta: RecordMeta, metas: Mapping[str, RecordMeta]) -> str:
    """Where a redirect stub points, for a result list: the stored target's id, else the link as written."""
    return (_resolved(meta, metas) or meta.redirect) if meta.redirect else ""


def arrange(
    ranked: Sequence[tuple[str, float, T]], metas: Mapping[str, RecordMeta]
) -> list[tuple[str, float, T]]:
    """(record id, score, passages) with content first in its order and filler after it (scores scaled by
    ``FILLER_WEIGHT``). A redirect's target scores at least what its stub scored and the stub comes right
    after it; a stub whose target is not among the results (a page outside the corpus, or not found) is
    the way to that page, so it keeps its own place among the content."""
    if not any(metas[rid].filler for rid, _s, _p in ranked if rid in metas):
        return list(ranked)
    scores = {rid: score for rid, score, _p in ranked}
    follows: dict[str, list[tuple[str, float, T]]] = {}  # target id -> its stubs, in fused order
    for rid, score, p in ranked:
        meta = metas.get(rid)
        target = _resolved(meta, metas) if meta is not None and meta.redirect else ""
        if target in scores and not metas[target].filler:
            scores[target] = max(scores[target], score)
            follows.setdefault(target, []).append((rid, score, p))
    placed = {rid for stubs in follows.values() for rid, _s, _p in stubs}
    content = [(rid, scores[rid], p) for rid, _s, p in ranked if rid not in placed and not _hidden(rid, metas)]
    content.sort(key=lambda item: -item[1])  # stable: equal scores keep the fused order
    out = [entry for item in content for entry in (item, *follows.get(item[0], []))]
    return out + [(rid, score * FILLER_WEIGHT, p) for rid, score, p in ranked if _hidden(rid, metas)]


def _hidden(rid: str, metas: Mapping[str, RecordMeta]) -> bool:
    """Filler listed after all content: a page of links or an empty template (a redirect follows its target)."""
    meta = metas.get(rid)
    return meta is not None and bool(meta.filler) and not meta.redirect
