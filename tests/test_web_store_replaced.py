"""The web UI's knowledge base is loaded once per process, and again when its store folder was replaced."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ingest.pipeline import Ingestor
from kb.clients.files import database_file
from tests.conftest import DATA
from ui.web import common


def test_a_store_folder_deleted_and_made_again_is_loaded_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KB_DATA_DIR", str(tmp_path / "kb"))
    common._load.clear()
    first = common.resources()
    assert common.resources() is first  # cached while the store is the same
    shutil.rmtree(tmp_path / "kb")
    other = common.Settings()  # another process makes a new store there and ingests into it
    fresh = common.open_kb(other)
    Ingestor(other, fresh.store, fresh.embedding).run([DATA / "runbooks"])
    again = common.resources()
    assert again is not first and again.record_metas()
    assert common._opened[other.model_dump_json()] == database_file(other)
    common._load.clear()
