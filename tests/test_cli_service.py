"""The resident search service: what the command forwards, that its answers are the command's own, and that it
refuses (and stops) when the store or the code changed, the command then running in its own process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from kb.clients.files import database_file
from kb.knowledge import KnowledgeBase
from tests.conftest import ROOT, fake_ingested, fake_sample
from ui.cli import client
from ui.cli.main import run
from ui.cli.service import Service, serve


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    return fake_sample(tmp_path_factory.mktemp("service"))[1]


@pytest.fixture
def env(sample: KnowledgeBase, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The command's environment: this store, the service on, a private socket folder (short: a socket's path
    is limited to about 100 bytes)."""
    runtime = Path(tempfile.mkdtemp(prefix="kbs", dir="/tmp"))
    monkeypatch.setenv("KB_DATA_DIR", str(sample.settings.data_dir))
    monkeypatch.setenv("KB_SERVICE", "on")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.delenv("KB_SERVICE_IDLE", raising=False)
    yield runtime
    shutil.rmtree(runtime, ignore_errors=True)


def test_sockets_are_made_where_their_path_fits(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert client.service_dir() == env / f"incident-kb-{os.getuid()}"
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/tmp/" + "x" * 80)
    monkeypatch.setenv("TMPDIR", str(env))
    assert client.service_dir() == env / f"incident-kb-{os.getuid()}"
    path = client.socket_path(client.config_key(None))
    assert path is not None and len(str(path)) + len(".lock") < 104


def own_process(argv: list[str], kb: KnowledgeBase, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    status = run(argv, kb)
    return status, capsys.readouterr().out


def test_only_search_similar_and_ask_are_forwarded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert client.split(["search", "pods", "--json"]) == (None, ["search", "pods", "--json"])
    assert client.split(["ask", "who owns checkout?", "--json"]) == (None, ["ask", "who owns checkout?", "--json"])
    for chat in (["ask", "--chat"], ["ask", "--ch"], ["ask", "x", "--chat=1"]):  # reads this terminal: runs here
        assert client.split(chat) is None, chat
    assert client.split(["ask", "--", "--chat"]) == (None, ["ask", "--", "--chat"])  # a question, not the option
    kb = str(tmp_path / "kb")
    assert client.split(["--data-dir", "kb", "similar", "x"]) == ("kb", ["--data-dir", kb, "similar", "x"])
    assert client.split(["--data=kb", "search", "x"]) == ("kb", ["--data-dir", kb, "search", "x"])
    assert client.split(["search", "--alert", "a.json"]) == (None, ["search", "--alert", str(tmp_path / "a.json")])
    assert client.split(["search", "--al=a.json"]) == (None, ["search", f"--al={tmp_path / 'a.json'}"])
    for argv in (["search", "--alert", "-"], ["ingest", "data"], ["--verbose", "search", "x"], [], ["--data-dir"]):
        assert client.split(argv) is None, argv


def test_each_configuration_has_its_own_service(tmp_path: Path) -> None:
    base = {"KB_DATA_DIR": "/a", "HOME": "/h"}
    key = client.config_key(None, str(tmp_path), base)
    assert key == client.config_key(None, str(tmp_path), {**base, "KB_SERVICE_IDLE": "5", "TERM": "x"})
    assert key != client.config_key(None, str(tmp_path), {**base, "KB_DATA_DIR": "/b"})
    assert key != client.config_key("/b", str(tmp_path), base)
    assert key != client.config_key(None, str(tmp_path), {**base, "KB_EMBED_BACKEND": "openai"})
    (tmp_path / ".env").write_text("KB_DATA_DIR=/c\n")
    assert key != client.config_key(None, str(tmp_path), base)


def test_no_service_runs_the_command_here(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert client.forward(["search", "checkout"], autostart=False) is None
    monkeypatch.setenv("KB_SERVICE", "off")
    assert client.forward(["search", "checkout"]) is None
    assert not list(env.rglob("*.sock*")), "the service is off: nothing is started"


def test_answers_are_the_commands_own(sample: KnowledgeBase, capsys: pytest.CaptureFixture[str]) -> None:
    service = Service.open([], sample)
    assert service is not None
    for argv in (["search", "checkout 502 after deploy", "--json"], ["search", "pool exhausted", "-k", "2"],
                 ["ask", "how do I check the pgbouncer pools?", "--json"]):
        answer, keep = service.handle({"argv": argv, "code": service.stamp})
        assert keep and answer["status"] == "ok"
        assert (answer["exit"], answer["stdout"]) == own_process(argv, sample, capsys)
        assert answer["stdout"].strip()
    answer, _ = service.handle({"argv": ["search", "--kind", "nonsense", "x"], "code": service.stamp})
    assert answer["exit"] == 2 and "invalid choice" in answer["stderr"]


def test_a_changed_store_or_code_is_refused_and_stops_the_service(sample: KnowledgeBase) -> None:
    service = Service.open([], sample)
    assert service is not None
    request = {"argv": ["search", "checkout"], "code": service.stamp}
    answer, keep = service.handle({**request, "code": "older"})
    assert answer == {"status": "refused", "reason": "the code changed"} and not keep
    answer, keep = service.handle({"argv": ["ingest", "data"], "code": service.stamp})
    assert answer["status"] == "refused" and keep
    sample.store.bump_version()  # what any ingest, update or prune does
    answer, keep = service.handle(request)
    assert answer == {"status": "refused", "reason": "the store changed"} and not keep


def test_a_store_folder_deleted_and_made_again_is_refused(tmp_path: Path) -> None:
    """The service still reads the old database file after its folder is deleted; a new store there, even one
    at the same version stamp, is another store."""
    settings, kb, data = fake_sample(tmp_path / "one")
    service = Service.open([], kb)
    assert service is not None and service.stale() is None
    shutil.rmtree(settings.data_dir)
    fresh = fake_ingested(settings, data / "runbooks")
    assert fresh.store.version() and database_file(fresh.settings) != service.place
    answer, keep = service.handle({"argv": ["search", "checkout"], "code": service.stamp})
    assert answer == {"status": "refused", "reason": "the store was replaced"} and not keep


def served(kb: KnowledgeBase) -> tuple[Path, threading.Thread]:
    """A service over ``kb`` answering on its socket from a thread (stops after 30 idle seconds); once it answers."""
    service = Service.open([], kb)
    assert service is not None
    path = client.socket_path(client.config_key(None))
    assert path is not None
    thread = threading.Thread(target=serve, args=(service, path, 30.0), daemon=True)
    thread.start()
    for _ in range(100):
        if client.ping():
            break
        threading.Event().wait(0.05)
    return path, thread


def test_the_command_uses_the_service_and_falls_back_when_the_store_changed(
    sample: KnowledgeBase, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, thread = served(sample)
    assert path.parent.stat().st_mode & 0o777 == 0o700
    argv = ["search", "checkout errors", "--json"]
    expected = own_process(argv, sample, capsys)
    assert client.forward(argv, autostart=False) == expected[0]
    assert capsys.readouterr().out == expected[1]
    assert path.stat().st_mode & 0o777 == 0o600
    sample.store.bump_version()
    assert client.forward(argv, autostart=False) is None, "a stale service must not answer"
    thread.join(10)
    assert not thread.is_alive() and not path.exists()


def test_a_search_process_imports_neither_llama_index_nor_the_ingestion_pipeline() -> None:
    code = (
        "import sys\n"
        "import ui.cli.main\n"
        "assert 'kb' not in sys.modules, 'the command line must reach the service before importing the library'\n"
        "ui.cli.main.build_parser()\n"
        "import kb.knowledge\n"
        "heavy = sorted(m for m in sys.modules if m.startswith(('llama_index', 'ingest.pipeline', 'streamlit')))\n"
        "assert not heavy, heavy\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


@pytest.mark.slow
def test_the_query_runtime_and_the_llama_index_face_give_the_same_vectors() -> None:
    from kb.retrieval.embeddings import OnnxMiniLMEmbedding
    from kb.retrieval.onnx_model import MiniLM

    query = "pgbouncer pool exhausted: too many clients already"
    assert MiniLM.loaded(1).get_query_embedding(query) == OnnxMiniLMEmbedding(threads=1).get_query_embedding(query)


def test_kb_service_says_whether_one_runs_and_stops_it(
    sample: KnowledgeBase, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["service", "status"], sample) == 0
    assert "no search service runs" in capsys.readouterr().out
    path, thread = served(sample)
    assert run(["service", "status", "--json"], sample) == 0
    assert '"running": true' in capsys.readouterr().out
    assert run(["service", "stop"], sample) == 0
    assert "stopped the search service" in capsys.readouterr().out
    thread.join(10)
    assert not thread.is_alive() and not path.exists() and not client.ping()
    assert run(["service", "stop"], sample) == 0
    assert "no search service was running" in capsys.readouterr().out
