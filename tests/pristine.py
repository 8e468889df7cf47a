"""The sample corpus ingested with the real model (`kb ingest`), once per test run, in a folder every test process
of the run shares: ``build(folder)`` does it under a file lock (the first caller builds, the others wait) and
marks it ``ready``. ``python -m tests.pristine FOLDER`` runs it in the background: tests/conftest.py starts that as
soon as it has collected a test that needs the store, so the ingest overlaps the tests that do not.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from filelock import FileLock

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"


def _ingest(base: Path) -> None:
    data = shutil.copytree(DATA, base / "data")
    result = subprocess.run(
        [sys.executable, "-m", "ui.cli.main", "--data-dir", str(base / "store"), "ingest", str(data)],
        capture_output=True, text=True, cwd=ROOT, timeout=1800, check=False,
    )
    assert result.returncode == 0, result.stderr


def build(folder: Path) -> Path:
    """The store in ``folder`` (built now unless it is ready; waits while another process builds it)."""
    with FileLock(str(folder) + ".lock"):
        if not (folder / "ready").exists():
            shutil.rmtree(folder, ignore_errors=True)
            _ingest(folder)
            (folder / "ready").touch()
    return folder / "store"


if __name__ == "__main__":
    build(Path(sys.argv[1]))
