from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from ingest.pipeline import Ingestor
from kb.clients.store import open_store
from kb.core.settings import Settings
from kb.knowledge import KnowledgeBase
from kb.retrieval.embeddings import model_id
from kb.retrieval.meaning import use_cache_dir
from tests import pristine
from tests.fakes import HashingEmbedding
from ui.web.local_server import free_port

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"

# the browser tests' fixtures (`kb ui`, Chromium, a page), for every module that asks for them
pytest_plugins = ["tests.browser_kit"]


_OWN_CACHE = pytest.StashKey[Path]()


def pytest_configure(config: pytest.Config) -> None:
    """One on-disk vector cache for the whole run, shared by the test processes (pytest-xdist workers inherit
    it) and every `kb` they start (KB_CACHE_DIR): the labelled examples are embedded once per run, not once
    per process. A fresh one each run unless KB_CACHE_DIR is already set."""
    os.environ["KB_SERVICE"] = "off"  # a `kb` a test starts runs in its own process and leaves no service behind
    if not os.environ.get("KB_CACHE_DIR"):
        os.environ["KB_CACHE_DIR"] = tempfile.mkdtemp(prefix="kb-test-vectors-")
        config.stash[_OWN_CACHE] = Path(os.environ["KB_CACHE_DIR"])
    use_cache_dir(Path(os.environ["KB_CACHE_DIR"]))


def pytest_unconfigure(config: pytest.Config) -> None:
    builder = config.stash.get(_BUILDER, None)
    if builder is not None and builder.poll() is None:  # the run ended before it needed the store
        os.killpg(builder.pid, signal.SIGTERM)  # it and the `kb ingest` it runs
        builder.wait(timeout=30)
    own = config.stash.get(_OWN_CACHE, None)
    if own is not None:
        shutil.rmtree(own, ignore_errors=True)
        os.environ.pop("KB_CACHE_DIR", None)


@pytest.fixture(autouse=True)
def _no_env_leak(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("KB_DATA_DIR", "KB_CHROMA_URL", "KB_EMBED_BACKEND", "KB_LLM_BASE_URL"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Chroma server (`chroma run`, shipped with chromadb) on a loopback port, for the session."""
    exe = Path(sys.executable).with_name("chroma")
    chroma = str(exe) if exe.exists() else shutil.which("chroma")
    assert chroma, "the chroma command (from chromadb) is missing"
    port = free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    log = (path / "server.log").open("w")
    proc = subprocess.Popen(
        [chroma, "run", "--path", str(path / "db"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("chroma run did not start: " + (path / "server.log").read_text()[-2000:])
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=20)
    log.close()


@pytest.fixture(params=["embedded", pytest.param("server", marks=pytest.mark.slow)])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings of a fresh store: embedded, and (slow tier) a collection of its own on a Chroma server."""
    if request.param == "server":
        url = request.getfixturevalue("chroma_server")
        prefix = "t" + uuid.uuid4().hex[:12]
        return Settings(  # type: ignore[call-arg]
            data_dir=tmp_path / "kb", chroma_url=url, collection_prefix=prefix, lock_timeout_s=1.0, _env_file=None
        )
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
    from kb.retrieval.embeddings import OnnxMiniLMEmbedding

    return OnnxMiniLMEmbedding(threads=2)


def copy_data(dest: Path) -> Path:
    shutil.copytree(DATA, dest)
    return dest


def fake_ingested(settings: Settings, *paths: Path) -> KnowledgeBase:
    """``paths`` ingested into the configured store with the hashing embedding (fast, no model); the knowledge
    base over it."""
    kb = KnowledgeBase(settings, embedding=HashingEmbedding(), store=open_store(settings, "hashing-64"))
    Ingestor(settings, kb.store, kb.embedding, kb.keyword).run(list(paths))
    return kb


def fake_sample(base: Path) -> tuple[Settings, KnowledgeBase, Path]:
    """A private copy of data/ under ``base`` ingested with the hashing embedding: the settings, the knowledge
    base over the store, and the data copy."""
    settings = Settings(data_dir=base / "kb", _env_file=None)  # type: ignore[call-arg]
    data = copy_data(base / "data")
    return settings, fake_ingested(settings, data), data


def pristine_folder(config: pytest.Config) -> Path:
    """Where this run's pristine sample store is built: beside the test processes' own temporary folders."""
    base = config._tmp_path_factory.getbasetemp()  # type: ignore[attr-defined]  # (pytest's tmp_path_factory)
    return (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "pristine"


@pytest.fixture(scope="session")
def pristine_sample_store(pytestconfig: pytest.Config) -> Path:
    """The sample corpus ingested once per test run with the real model (kb ingest); copy it before changing
    it (``sample_store_copy``). It is built in the folder all test processes of the run share, by the one that
    started it in the background after collection (``pytest_collection_modifyitems``) or by the first that needs
    it; the others wait for it and use it."""
    return pristine.build(pristine_folder(pytestconfig))


_BUILDER = pytest.StashKey[subprocess.Popen[bytes]]()
#: the run order of the modules: 0 slow ones that do not need the pristine store (while it is built), 1 the ones
#: that need it, 2 the fast ones (many short modules last, so the test processes finish together)
FIRST, NEEDS_STORE, FAST = 0, 1, 2


@pytest.hookimpl(trylast=True)  # after -m and -k have deselected
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Slow modules first, a module's tests in their own order; and when a test needs the pristine sample store,
    its ingest starts now in the background (once per run), so that it overlaps the modules that do not."""
    first: dict[str, int] = {}
    needs: set[str] = set()
    slow: set[str] = set()
    for n, item in enumerate(items):
        module = item.nodeid.split("::", 1)[0]
        first.setdefault(module, n)
        if "pristine_sample_store" in getattr(item, "fixturenames", ()):
            needs.add(module)
        if item.get_closest_marker("slow") is not None:
            slow.add(module)

    def order(item: pytest.Item) -> tuple[int, int]:
        module = item.nodeid.split("::", 1)[0]
        return NEEDS_STORE if module in needs else FIRST if module in slow else FAST, first[module]

    items.sort(key=order)  # stable: a module's tests keep their order
    if needs:
        _start_pristine_build(config)


def _start_pristine_build(config: pytest.Config) -> None:
    folder = pristine_folder(config)
    if (folder / "ready").exists():
        return
    try:
        (folder.parent / "pristine.started").mkdir()  # one test process of the run starts it
    except FileExistsError:
        return
    env = {k: v for k, v in os.environ.items() if k not in ("KB_DATA_DIR", "KB_CHROMA_URL", "KB_EMBED_BACKEND")}
    with (folder.parent / "pristine.log").open("w") as log:
        config.stash[_BUILDER] = subprocess.Popen(
            [sys.executable, "-m", "tests.pristine", str(folder)], cwd=ROOT, env=env, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )


def sample_store_copy(pristine: Path, dest: Path) -> Path:
    """A private copy of the ingested sample store (its documents still point at the shared data copy)."""
    shutil.copytree(pristine, dest)
    return dest
