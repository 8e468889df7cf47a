"""The dense side of the title field: one vector per distinct "document title + section heading".

A section whose heading says what the query asks ("Replication is lagging or has stopped" for "replica
lag") can rank below long passages whose body only mentions it. Each chunk's title-and-heading text is
embedded once (sections share it, so there are far fewer than chunks), and a document's dense score is
the better of its best passage and its best heading, the heading's similarity scaled by ``WEIGHT``
(docs/retrieval.md). The vectors are made when the keyword snapshot is built (at the end of an ingest)
and saved beside it; vectors of headings an earlier snapshot held are reused, not embedded again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

Embed = Callable[[list[str]], Sequence[Sequence[float]]]
#: a heading's similarity counts this much against a passage's (0.85-0.95 measured alike; 1.0 and above let
#: short generic headings outrank the passages that answer)
WEIGHT = 0.95


class HeadingVectors:
    """Vectors of distinct heading texts, and which one each chunk (by snapshot position) carries."""

    def __init__(self, texts: list[str], vectors: np.ndarray, of_chunk: np.ndarray) -> None:
        self.texts = texts
        self.vectors = vectors
        self.of_chunk = of_chunk
        self._row = {t: i for i, t in enumerate(texts)}
        self._first_of: np.ndarray | None = None

    @classmethod
    def empty(cls) -> HeadingVectors:
        return cls([], np.zeros((0, 0), dtype=np.float32), np.zeros(0, dtype=np.int32))

    @classmethod
    def build(cls, per_chunk: list[str], embed: Embed, previous: HeadingVectors | None = None) -> HeadingVectors:
        """Vectors for the headings of every chunk, embedding only texts ``previous`` did not hold."""
        texts = list(dict.fromkeys(per_chunk))
        row = {t: i for i, t in enumerate(texts)}
        known = previous._row if previous is not None else {}
        new = [t for t in texts if t not in known]
        fresh = np.asarray(embed(new), dtype=np.float32) if new else np.zeros((0, 0), dtype=np.float32)
        dim = fresh.shape[1] if len(new) else (previous.vectors.shape[1] if previous is not None and known else 0)
        vectors = np.zeros((len(texts), dim), dtype=np.float32)
        made = {t: i for i, t in enumerate(new)}
        for i, text in enumerate(texts):
            vectors[i] = fresh[made[text]] if text in made else previous.vectors[known[text]]  # type: ignore[union-attr]
        return cls(texts, vectors, np.asarray([row[t] for t in per_chunk], dtype=np.int32))

    def __len__(self) -> int:
        return len(self.texts)

    def save(self, folder: Path, model: str) -> None:
        np.save(folder / "heading_vectors.npy", self.vectors)
        np.save(folder / "heading_of_chunk.npy", self.of_chunk)
        (folder / "heading_texts.json").write_text(json.dumps({"model": model, "texts": self.texts}))

    @classmethod
    def saved(cls, folder: Path | None, model: str) -> HeadingVectors | None:
        """The vectors ``model`` made that are saved in ``folder``, whatever store version they were made for
        (so a rebuild embeds only the headings they lack), or None."""
        if folder is None:
            return None
        try:
            saved = json.loads((folder / "heading_texts.json").read_text())
            return cls.load(folder, saved["texts"]) if saved.get("model") == model else None
        except (OSError, ValueError, KeyError, TypeError):
            return None

    @classmethod
    def load(cls, folder: Path, texts: list[str]) -> HeadingVectors | None:
        if not (folder / "heading_vectors.npy").is_file():
            return None
        vectors = np.load(folder / "heading_vectors.npy")
        of_chunk = np.load(folder / "heading_of_chunk.npy")
        return cls(texts, vectors, of_chunk) if len(vectors) == len(texts) else None

    def _first(self, record_of: np.ndarray) -> np.ndarray:
        """Whether each chunk is the first of its document to carry its heading text."""
        if self._first_of is None or len(self._first_of) != len(record_of):
            pairs = record_of.astype(np.int64) * max(1, len(self.texts)) + self.of_chunk
            first = np.zeros(len(pairs), dtype=bool)
            first[np.unique(pairs, return_index=True)[1]] = True
            self._first_of = first
        return self._first_of

    def search(
        self, query: Sequence[float], n: int, record_of: np.ndarray, mask: np.ndarray | None
    ) -> list[tuple[int, float]]:
        """(chunk position, weighted similarity) of the ``n`` chunks whose heading is most like the query
        (only chunks passing ``mask``, a filter per record); one chunk per heading of a document, the first
        that carries it."""
        if not self.texts or len(self.of_chunk) == 0:
            return []
        sims = self.vectors @ np.asarray(query, dtype=np.float32)
        per_chunk = sims[self.of_chunk]
        if mask is not None:
            per_chunk = np.where(mask > 0, per_chunk, -np.inf)
        per_chunk = np.where(self._first(record_of), per_chunk, -np.inf)
        n = min(n, int(np.count_nonzero(np.isfinite(per_chunk))))
        if n <= 0:
            return []
        top = np.argpartition(-per_chunk, n - 1)[:n]
        top = top[np.argsort(-per_chunk[top])]
        return [(int(i), float(WEIGHT * per_chunk[i])) for i in top]
