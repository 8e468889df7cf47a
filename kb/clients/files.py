"""Files kb keeps in its data directory (scenarios, sessions, proposals, revisions, catch-up state) and
uploads ingest saves: each written whole or not at all."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kb.core.settings import Settings


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write ``data`` (text as UTF-8) under a hidden name beside ``path`` (ingest skips hidden files), then
    rename it over ``path``: a reader sees the old file or the new one, never part of one."""
    part = path.with_name(f".{path.name}.part")
    try:
        part.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        part.replace(path)
    finally:
        part.unlink(missing_ok=True)


def database_file(settings: Settings) -> str:
    """Which database file the embedded store is ('' for a server, or when there is none): a store folder deleted
    and made again is another store, though a process that had it open still reads the old, unlinked file."""
    if settings.chroma_url:
        return ""
    try:
        info = (settings.data_dir / "chroma" / "chroma.sqlite3").stat()
    except OSError:
        return ""
    return f"{info.st_dev}:{info.st_ino}"


#: the database file Chroma's connection to each store folder opened, in this process
_CONNECTED: dict[str, str] = {}


@contextmanager
def fresh_connection(settings: Settings) -> Iterator[None]:
    """Around connecting to an embedded store: Chroma keeps one connection per folder in a process, so when the
    folder's database file is not the one that connection opened (deleted and made again), it is dropped first,
    or the new client would go on reading the old file."""
    folder, now = str(settings.data_dir / "chroma"), database_file(settings)
    if not settings.chroma_url and _CONNECTED.get(folder, now) != now:
        from chromadb.api.shared_system_client import SharedSystemClient

        SharedSystemClient.clear_system_cache()
    yield
    _CONNECTED[folder] = database_file(settings)
