"""Files uploaded through the web UI: safe names, size limits, zip archives unpacked without escaping
their folder, then ingested like any other folder."""

from __future__ import annotations

import hashlib
import json
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
    already: list[tuple[str, Path]] = field(default_factory=list)  # (name, the earlier upload with its bytes)


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


#: sha256 of every upload -> where it was saved (hidden: ingesting the uploads folder skips it)
RECEIVED = ".received.json"


def _received(root: Path | None) -> dict[str, str]:
    if root is None:
        return {}
    try:
        return dict(json.loads((root / RECEIVED).read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return {}


def save_uploads(
    folder: Path, uploads: list[tuple[str, bytes]], max_bytes: int, earlier: Path | None = None
) -> Saved:
    """Write uploaded (name, bytes) pairs under ``folder``; unpack zips (Slack exports keep their layout).
    A file or zip whose bytes were uploaded before (recorded under ``earlier``) is not written again:
    ingesting a second copy would store the same documents twice."""
    folder.mkdir(parents=True, exist_ok=True)
    saved = Saved(folder=folder)
    received = _received(earlier)
    for raw_name, data in uploads:
        digest = hashlib.sha256(data).hexdigest()
        if digest in received and earlier is not None and (earlier / received[digest]).exists():
            saved.already.append((raw_name, earlier / received[digest]))
            continue
        before = len(saved.files)
        written = _save_one(folder, raw_name, data, max_bytes, saved)
        if earlier is not None and len(saved.files) > before:
            received[digest] = str(written.relative_to(earlier))
    if earlier is not None and received:
        (earlier / RECEIVED).write_text(json.dumps(received, indent=1), encoding="utf-8")
    return saved


def _save_one(folder: Path, raw_name: str, data: bytes, max_bytes: int, saved: Saved) -> Path:
    """Save one upload; returns where it goes (a zip: the folder it is unpacked into), refused or not."""
    name = safe_name(raw_name)
    zipped = name.lower().endswith(".zip")
    path = _unique(folder, Path(name).stem if zipped else name)
    if len(data) > max_bytes:
        saved.refused.append((raw_name, f"larger than the upload limit ({max_bytes // (1024 * 1024)} MB)"))
    elif zipped:
        _unzip(path, raw_name, data, max_bytes, saved)
    elif Path(name).suffix.lower() not in SUPPORTED:
        saved.refused.append((raw_name, "not a supported type (Markdown, PDF, text, Slack export JSON or a zip)"))
    else:
        path.write_bytes(data)
        saved.files.append(path)
    return path


def _unzip(target: Path, raw_name: str, data: bytes, max_bytes: int, saved: Saved) -> None:
    import io

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
