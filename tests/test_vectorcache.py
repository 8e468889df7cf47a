"""The bundled model's vectors kept on disk between processes: keyed by model identity and text, every row
checked before it is trusted, safe with several processes at once, and the same vectors warm or cold."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kb.retrieval import meaning
from kb.retrieval.vectorcache import FILE_NAME, VectorCache
from tests.fakes import HashingEmbedding

ROOT = Path(__file__).resolve().parent.parent


def test_vectors_come_back_exactly_and_models_never_mix(tmp_path: Path) -> None:
    cache = VectorCache(tmp_path)
    narrow = np.arange(384, dtype=np.float32) / 7
    wide = np.arange(384, dtype=np.float64) / 7  # not exact in float32: kept as float64
    cache.put("model-a", [("checkout 502s", narrow), ("pool exhausted", wide)])
    got = cache.get("model-a", ["checkout 502s", "pool exhausted", "never stored"])
    assert set(got) == {"checkout 502s", "pool exhausted"}
    assert np.array_equal(got["checkout 502s"], narrow.astype(np.float64))
    assert np.array_equal(got["pool exhausted"], wide)
    assert cache.get("model-b", ["checkout 502s"]) == {}
    assert VectorCache(tmp_path / "elsewhere").get("model-a", ["checkout 502s"]) == {}


def test_a_tampered_row_is_not_trusted_and_is_replaced(tmp_path: Path) -> None:
    cache = VectorCache(tmp_path)
    cache.put("m", [("a", np.ones(4)), ("b", np.ones(4))])
    with sqlite3.connect(tmp_path / FILE_NAME) as db:
        db.execute("UPDATE vectors SET vec = ? WHERE rowid = (SELECT min(rowid) FROM vectors)",
                   (np.full(4, 2.0, dtype=np.float32).tobytes(),))
        db.execute("UPDATE vectors SET vec = ? WHERE rowid = (SELECT max(rowid) FROM vectors)", (b"\x00\x01",))
    db.close()
    assert cache.get("m", ["a", "b"]) == {}
    cache.put("m", [("a", np.zeros(4))])
    assert np.array_equal(cache.get("m", ["a"])["a"], np.zeros(4))


def test_a_file_that_is_not_a_database_is_set_aside(tmp_path: Path) -> None:
    (tmp_path / FILE_NAME).write_bytes(b"this is not sqlite at all" * 100)
    cache = VectorCache(tmp_path)
    assert cache.get("m", ["a"]) == {}
    assert (tmp_path / f"{FILE_NAME}.corrupt").exists()
    cache.put("m", [("a", np.ones(3))])
    assert np.array_equal(cache.get("m", ["a"])["a"], np.ones(3))


WRITER = """
import sys
import numpy as np
from pathlib import Path
from kb.retrieval.vectorcache import VectorCache
cache, n = VectorCache(Path(sys.argv[1])), int(sys.argv[2])
for i in range(40):
    cache.put("m", [(f"text {j}", np.full(8, float(j))) for j in range(i * 5, i * 5 + 5)])
    got = cache.get("m", [f"text {j}" for j in range(i * 5 + 5)])
    assert all(np.array_equal(v, np.full(8, float(t.split()[1]))) for t, v in got.items()), "wrong vector"
assert not cache.failed
print(n)
"""


def test_several_processes_write_and_read_at_once(tmp_path: Path) -> None:
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), str(n)], cwd=ROOT, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for n in range(3)]
    for n, proc in enumerate(procs):
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0 and out.strip() == str(n), err
    got = VectorCache(tmp_path).get("m", [f"text {j}" for j in range(200)])
    assert len(got) == 200 and np.array_equal(got["text 123"], np.full(8, 123.0))


def test_only_the_bundled_model_is_kept_on_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(meaning, "_DISK", VectorCache(tmp_path))
    monkeypatch.setattr(meaning, "_CACHE", {})
    fake = HashingEmbedding()
    assert meaning.cache_identity(fake) is None  # its name does not pin its weights
    first = meaning.embed(["disk full on db-1"], fake)
    assert not (tmp_path / FILE_NAME).exists()
    assert np.array_equal(first[0], np.asarray(fake.get_text_embedding("disk full on db-1")))


@pytest.mark.slow
def test_warm_and_cold_give_the_same_vectors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = meaning.bundled_model()
    identity = meaning.cache_identity(model)
    assert identity and "all-MiniLM" in identity
    texts = ["rolled back the deploy and the errors stopped", "I think the pool is too small", "lunch?"]
    monkeypatch.setattr(meaning, "_DISK", VectorCache(tmp_path))
    monkeypatch.setattr(meaning, "_CACHE", {})
    cold = meaning.embed(texts)
    assert len(VectorCache(tmp_path).get(identity, texts)) == 3
    monkeypatch.setattr(meaning, "_CACHE", {})

    def no_model(*_: object, **__: object) -> None:
        raise AssertionError("the model ran although every vector was on disk")

    monkeypatch.setattr(type(model), "get_text_embedding_batch", no_model)
    warm = meaning.embed(texts)
    assert all(np.array_equal(a, b) for a, b in zip(cold, warm, strict=True))
    assert cold[0] @ cold[1] < 0.99  # different texts, different vectors


@pytest.mark.slow
def test_the_pieces_an_answer_compares_are_embedded_once_and_whole(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from kb.core.settings import Settings
    from kb.knowledge import open_kb

    model = meaning.bundled_model()
    kb = open_kb(Settings(data_dir=tmp_path / "kb", cache_dir=tmp_path / "cache", _env_file=None),  # type: ignore[call-arg]
                 embedding=model)
    long_item = "Restart the replication controller deployment gracefully. " * 18 + "Then page the storage team."
    assert len(long_item) > meaning.MAX_TEXT_CHARS
    texts = ["**Time to repair**: 2h 5m", long_item]
    monkeypatch.setattr(meaning, "_CACHE", {})
    cold = kb.embed_texts(texts)
    assert np.allclose(cold[1], model.get_text_embedding(long_item))  # whole, not cut at the classifier's length
    assert not np.allclose(cold[1], model.get_text_embedding(long_item[: meaning.MAX_TEXT_CHARS]))
    monkeypatch.setattr(meaning, "_CACHE", {})  # as in the next `kb ask`: only the disk remembers

    def no_model(*_: object, **__: object) -> None:
        raise AssertionError("the model ran although every vector was on disk")

    monkeypatch.setattr(type(model), "get_text_embedding_batch", no_model)
    assert kb.embed_texts(texts) == cold
