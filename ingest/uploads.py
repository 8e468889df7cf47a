"""Files uploaded through the web UI: safe names, size limits, zip archives unpacked without escaping
their folder, then ingested like any other folder."""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

SUPPORTED = {".md", ".markdown", ".pdf", ".txt", ".log", ".json"}
MAX_ZIP_MEMBERS = 5000


@dataclass
class Saved:
    """Where uploads went, and what was refused before ingesting."""

    folder: Path
    files: list[Path] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (name, reason)


def safe_name(name: str) -> str:
    """A file name without folders, traversal or odd characters ('../../etc/passwd' -> 'passwd')."""
    base = PurePosixPath(name.replace("\\", "/")).name
    base = re.sub(r"[^A-Za-z0-9._ -]+", "_", base).strip(" .")
    return base[:150] or "upload"


def _unique(folder: Path, name: str) -> Path:
    path = folder / name
    n = 1
    while path.exists():
        n += 1
        path = folder / f"{Path(name).stem}-{n}{Path(name).suffix}"
    return path


def save_uploads(folder: Path, uploads: list[tuple[str, bytes]], max_bytes: int) -> Saved:
    """Write uploaded (name, bytes) pairs under ``folder``; unpack zips (Slack exports keep their layout)."""
    folder.mkdir(parents=True, exist_ok=True)
    saved = Saved(folder=folder)
    for raw_name, data in uploads:
        name = safe_name(raw_name)
        if len(data) > max_bytes:
            saved.refused.append((raw_name, f"larger than the upload limit ({max_bytes // (1024 * 1024)} MB)"))
            continue
        if name.lower().endswith(".zip"):
            _unzip(folder, raw_name, data, max_bytes, saved)
            continue
        if Path(name).suffix.lower() not in SUPPORTED:
            saved.refused.append((raw_name, "not a supported type (Markdown, PDF, text, Slack export JSON or a zip)"))
            continue
        path = _unique(folder, name)
        path.write_bytes(data)
        saved.files.append(path)
    return saved


def _unzip(folder: Path, raw_name: str, data: bytes, max_bytes: int, saved: Saved) -> None:
    import io

    target = _unique(folder, Path(safe_name(raw_name)).stem)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        saved.refused.append((raw_name, "not a readable zip archive"))
        return
    members = [m for m in archive.infolist() if not m.is_dir()]
    if len(members) > MAX_ZIP_MEMBERS:
        saved.refused.append((raw_name, f"more than {MAX_ZIP_MEMBERS} files"))
        return
    total = 0
    for member in members:
        pieces = PurePosixPath(member.filename.replace("\\", "/")).parts
        parts = [safe_name(p) for p in pieces if p not in ("", ".", "..", "/")]
        if not parts or "__MACOSX" in parts:
            continue
        total += member.file_size
        if member.file_size > max_bytes or total > max_bytes * 4:
            saved.refused.append((f"{raw_name}:{member.filename}", "too large once unpacked"))
            continue
        path = target.joinpath(*parts)
        if target.resolve() not in path.resolve().parents:
            saved.refused.append((f"{raw_name}:{member.filename}", "path escapes the archive"))
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(archive.read(member))
        saved.files.append(path)
