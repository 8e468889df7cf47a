"""Vectors of the bundled model kept on disk between processes, so the labelled examples (and the texts
classified with them) are embedded once per machine rather than once per process.

One SQLite file in the cache directory holds ``key -> vector``: the key is a hash of the model's identity and
the text, so vectors of different models (or model files) are never mixed. Each row carries a digest of its
key and vector; a row whose digest, size or values do not check out is treated as missing (and overwritten),
and a file SQLite cannot read is moved aside and started afresh. Several processes may read and write it at
once (SQLite's locking, a busy timeout); any failure of the cache only costs the time of embedding again.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np

#: bump when what a vector means changes without the model's identity changing
FORMAT = 1
FILE_NAME = f"vectors-v{FORMAT}.sqlite3"
#: rows kept; beyond this the oldest are dropped (a row of the bundled model is about 1.6 kB)
MAX_ROWS = 100_000
#: how long a process waits for another one's write before it gives up on the cache for that call
BUSY_TIMEOUT_S = 10.0
#: keys asked for in one statement (SQLite's limit on host parameters is far above this)
CHUNK = 400
_SCHEMA = "CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, dtype TEXT, vec BLOB, digest BLOB)"
_DTYPES = {"f4": np.float32, "f8": np.float64}


def key(identity: str, text: str) -> bytes:
    return hashlib.sha256(f"{identity}\0{text}".encode()).digest()


def _digest(row_key: bytes, dtype: str, blob: bytes) -> bytes:
    return hashlib.sha256(row_key + dtype.encode() + blob).digest()[:16]


def _packed(vector: Any) -> tuple[str, bytes]:
    """The vector's bytes, as float32 when that loses nothing, else float64."""
    wide = np.asarray(vector, dtype=np.float64)
    narrow = wide.astype(np.float32)
    if np.array_equal(narrow.astype(np.float64), wide):
        return "f4", narrow.tobytes()
    return "f8", wide.tobytes()


def _unpacked(row_key: bytes, dtype: Any, blob: Any, digest: Any) -> Any | None:
    """The stored vector (float64), or None when anything about the row is off."""
    if dtype not in _DTYPES or not isinstance(blob, bytes) or not blob:
        return None
    if digest != _digest(row_key, dtype, blob) or len(blob) % np.dtype(_DTYPES[dtype]).itemsize:
        return None
    vector = np.frombuffer(blob, dtype=_DTYPES[dtype]).astype(np.float64)
    return vector if np.isfinite(vector).all() else None


class VectorCache:
    """The on-disk vectors under one directory (created on first write)."""

    def __init__(self, directory: Path) -> None:
        self.path = Path(directory) / FILE_NAME
        self.failed = False  #: set when the file could not be used; the process then stops trying

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S)
        db.execute(_SCHEMA)
        return db

    def _broken(self, exc: sqlite3.Error) -> None:
        """A locked file is skipped this once; a file SQLite cannot read is moved aside for a fresh one."""
        if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
            return
        if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
            try:
                self.path.replace(self.path.with_name(f"{self.path.name}.corrupt"))
                return
            except OSError:
                pass
        self.failed = True

    def get(self, identity: str, texts: Sequence[str]) -> dict[str, Any]:
        """The stored vectors of those texts that have a sound one."""
        if self.failed or not texts or not self.path.exists():
            return {}
        keys = {key(identity, t): t for t in texts}
        out: dict[str, Any] = {}
        try:
            with closing(self._connect()) as db:
                wanted = list(keys)
                for lo in range(0, len(wanted), CHUNK):
                    part = wanted[lo : lo + CHUNK]
                    marks = ",".join("?" * len(part))
                    rows = db.execute(f"SELECT key, dtype, vec, digest FROM vectors WHERE key IN ({marks})", part)  # noqa: S608 - placeholders only
                    for row_key, dtype, blob, digest in rows:
                        vector = _unpacked(row_key, dtype, blob, digest) if row_key in keys else None
                        if vector is not None:
                            out[keys[row_key]] = vector
        except sqlite3.Error as exc:
            self._broken(exc)
            return {}
        except OSError:
            self.failed = True
            return {}
        return out

    def put(self, identity: str, items: Iterable[tuple[str, Any]]) -> None:
        """Store these (text, vector) pairs, in one transaction."""
        rows = []
        for text, vector in items:
            row_key = key(identity, text)
            dtype, blob = _packed(vector)
            rows.append((row_key, dtype, blob, _digest(row_key, dtype, blob)))
        if self.failed or not rows:
            return
        try:
            with closing(self._connect()) as db, db:
                db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?)", rows)
                (count,) = db.execute("SELECT count(*) FROM vectors").fetchone()
                if count > MAX_ROWS:
                    drop = count - MAX_ROWS + MAX_ROWS // 10
                    db.execute("DELETE FROM vectors WHERE rowid IN (SELECT rowid FROM vectors ORDER BY rowid LIMIT ?)",
                               (drop,))
        except sqlite3.Error as exc:
            self._broken(exc)
        except OSError:
            self.failed = True
