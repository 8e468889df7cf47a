from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from types import ModuleType

import pytest

from ingest.pipeline import Ingestor
from kb.embeddings import model_id
from kb.settings import Settings
from kb.store import open_store
from tests.fakes import HashingEmbedding

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"


@pytest.fixture(autouse=True)
def _no_env_leak(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("KB_DATA_DIR", "KB_CHROMA_URL", "KB_EMBED_BACKEND", "KB_LLM_BASE_URL"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "kb", lock_timeout_s=1.0, _env_file=None)  # type: ignore[call-arg]


@pytest.fixture
def fake_embedding() -> HashingEmbedding:
    return HashingEmbedding()


@pytest.fixture
def fake_kb(settings: Settings, fake_embedding: HashingEmbedding) -> Ingestor:
    """A real embedded Chroma store with the fast fake embedding."""
    store = open_store(settings, model_id(fake_embedding))
    return Ingestor(settings, store, fake_embedding)


@pytest.fixture(scope="session")
def pdfgen() -> ModuleType:
    """The project's own dependency-free PDF writer (scripts/make_sample_pdfs.py)."""
    spec = importlib.util.spec_from_file_location("make_sample_pdfs", ROOT / "scripts" / "make_sample_pdfs.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def real_embedding():  # type: ignore[no-untyped-def]
    from kb.embeddings import OnnxMiniLMEmbedding

    return OnnxMiniLMEmbedding(threads=2)


def copy_data(dest: Path) -> Path:
    shutil.copytree(DATA, dest)
    return dest


@pytest.fixture(scope="session")
def pristine_sample_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample corpus ingested once per test session with the real model (kb ingest); copy it before
    changing it (``sample_store_copy``)."""
    import subprocess
    import sys

    base = tmp_path_factory.mktemp("pristine")
    data = copy_data(base / "data")
    store = base / "store"
    result = subprocess.run(
        [sys.executable, "-m", "ui.cli.main", "--data-dir", str(store), "ingest", str(data)],
        capture_output=True, text=True, cwd=ROOT, timeout=900, check=False,
    )
    assert result.returncode == 0, result.stderr
    return store


def sample_store_copy(pristine: Path, dest: Path) -> Path:
    """A private copy of the ingested sample store (its documents still point at the shared data copy)."""
    shutil.copytree(pristine, dest)
    return dest
