"""Deterministic fakes registered through the real seams (a llama-index BaseEmbedding)."""

from __future__ import annotations

import hashlib
import re

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding

DIM = 64


class HashingEmbedding(BaseEmbedding):
    """Bag of hashed lowercase words: texts sharing words are close. Fast, offline, deterministic."""

    calls: int = 0
    texts_embedded: int = 0

    def __init__(self) -> None:
        super().__init__(model_name="hashing-64")

    @classmethod
    def class_name(cls) -> str:
        return "HashingEmbedding"

    def _vec(self, text: str) -> list[float]:
        v = np.zeros(DIM, dtype=np.float32)
        for word in re.findall(r"[a-z0-9]+", text.lower()):
            v[int(hashlib.md5(word.encode()).hexdigest(), 16) % DIM] += 1.0  # noqa: S324 - not security
        n = float(np.linalg.norm(v))
        return (v / n if n else v + 1.0 / np.sqrt(DIM)).tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        self.calls += 1
        self.texts_embedded += len(texts)
        return [self._vec(t) for t in texts]

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embeddings([text])[0]

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._vec(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._vec(query)
