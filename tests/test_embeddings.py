"""The real offline model: verified by hash, normalised vectors, meaningful similarity."""

from __future__ import annotations

import numpy as np
import pytest

from kb.core.errors import ConfigError, ModelIntegrityError
from kb.core.settings import Settings
from kb.retrieval import embeddings

pytestmark = pytest.mark.slow


def test_model_files_are_verified_against_pinned_hashes() -> None:
    assert embeddings.verified_file(*embeddings.ONNX_MODEL).name == "model.onnx"
    package, path, _ = embeddings.TOKENIZER
    with pytest.raises(ModelIntegrityError, match="does not match the pinned"):
        embeddings.verified_file(package, path, "0" * 64)


def test_vectors_are_normalised_and_similar_texts_are_closer(real_embedding) -> None:  # type: ignore[no-untyped-def]
    vecs = np.array(
        real_embedding.get_text_embedding_batch(
            [
                "checkout returns 502 errors after a deploy",
                "checkout failing with bad gateway following the release",
                "kafka consumer lag delays delivery notifications",
            ]
        )
    )
    assert vecs.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
    sims = vecs @ vecs.T
    assert sims[0, 1] > sims[0, 2] + 0.15
    # batching and padding do not change a text's vector
    alone = np.array(real_embedding.get_text_embedding("kafka consumer lag delays delivery notifications"))
    assert np.allclose(alone, vecs[2], atol=1e-4)


def test_other_backends_need_their_settings() -> None:
    with pytest.raises(ConfigError, match="KB_EMBED_MODEL"):
        embeddings.make_embedding(Settings(embed_backend="openai", _env_file=None))  # type: ignore[call-arg]
    with pytest.raises(ConfigError):
        embeddings.make_embedding(
            Settings(embed_backend="sentence-transformers", embed_model="/nonexistent", _env_file=None)  # type: ignore[call-arg]
        )
