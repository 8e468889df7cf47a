"""Files kb keeps in its data directory (scenarios, sessions, proposals, revisions, catch-up state) and
uploads ingest saves: each written whole or not at all."""

from __future__ import annotations

from pathlib import Path


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write ``data`` (text as UTF-8) under a hidden name beside ``path`` (ingest skips hidden files), then
    rename it over ``path``: a reader sees the old file or the new one, never part of one."""
    part = path.with_name(f".{path.name}.part")
    try:
        part.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        part.replace(path)
    finally:
        part.unlink(missing_ok=True)
