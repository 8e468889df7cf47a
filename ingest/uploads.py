"""Files uploaded through the web UI: safe names, size limits, zip archives unpacked without escaping
their folder, then ingested like any other folder."""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from kb.clients.files import write_atomic

SUPPORTED = {".md", ".markdown", ".pdf", ".txt", ".log", ".json", ".csv"}
SUPPORTED |= {".html", ".htm", ".xhtml", ".docx"}  # Confluence, Google Docs, Word (.csv: Notion databases too)
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
        try:
            written = _save_one(folder, raw_name, data, max_bytes, saved)
        except OSError as exc:  # a full disk, a folder that cannot be made: this upload only
            saved.refused.append((raw_name, f"cannot save it: {exc.strerror or exc}"))
            continue
        if earlier is not None and len(saved.files) > before:
            received[digest] = str(written.relative_to(earlier))
    if earlier is not None and received:
        write_atomic(earlier / RECEIVED, json.dumps(received, indent=1))
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
        kinds = "Markdown, PDF, text, HTML, Word, Slack export JSON, incident exports (JSON, CSV), Notion CSV or a zip"
        saved.refused.append((raw_name, f"not a supported type ({kinds})"))
    else:
        try:
            write_atomic(path, data)
        except OSError as exc:
            saved.refused.append((raw_name, f"cannot save it: {exc.strerror or exc}"))
        else:
            saved.files.append(path)
    return path


#: a member that unpacks to more than this many times its packed size (and to over BOMB_FLOOR bytes) makes
#: the archive a zip bomb; text compresses about 3-10 to 1, a log of one repeated line about 150 to 1
MAX_RATIO = 200
BOMB_FLOOR = 1024 * 1024
#: the compression methods Python's zipfile can unpack
METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}


class _Damaged(Exception):
    """A member whose bytes do not match its header."""


def _why(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, (_Damaged, zipfile.BadZipFile)) else f"{type(exc).__name__}: {exc}"


def _unzip(target: Path, raw_name: str, data: bytes, max_bytes: int, saved: Saved) -> None:
    """Unpack a zip into ``target``: every member is checked (names, sizes, ratio, encryption, method, CRC)
    and written whole into a hidden staging folder that becomes ``target`` at the end; a member that fails
    is reported on its own, and nothing half-written is left."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except Exception as exc:  # hostile headers raise more than BadZipFile (bad UTF-8 names, bad offsets)
        saved.refused.append((raw_name, f"not a readable zip archive ({_why(exc)})"))
        return
    if len(entries) > MAX_ZIP_MEMBERS:
        saved.refused.append((raw_name, f"more than {MAX_ZIP_MEMBERS} files"))
        return
    for member in entries:
        packed = max(1, member.compress_size)
        if member.file_size > BOMB_FLOOR and member.file_size > MAX_RATIO * packed:
            ratio = f"compression ratio {member.file_size // packed}:1"
            saved.refused.append((raw_name, f"{member.filename}: {ratio}, a zip bomb; nothing unpacked"))
            return
    plan = _plan(entries, raw_name, max_bytes, saved)
    if not plan:
        return
    staging = Path(tempfile.mkdtemp(prefix=".unzip-", dir=target.parent))
    try:
        written: list[Path] = []
        for member, parts in plan:
            path = staging.joinpath(*parts)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                _extract(archive, member, path)
            except Exception as exc:  # CRC, a lying size, a truncated stream, a full disk: this member only
                path.unlink(missing_ok=True)
                saved.refused.append((f"{raw_name}: {member.filename}", f"damaged, not unpacked ({_why(exc)})"))
                continue
            written.append(path.relative_to(staging))
        if written:
            staging.rename(target)
            saved.files.extend(target / rel for rel in written)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _plan(
    entries: list[zipfile.ZipInfo], raw_name: str, max_bytes: int, saved: Saved
) -> list[tuple[zipfile.ZipInfo, list[str]]]:
    """The members to unpack with their safe relative paths; the others go to ``saved.refused``."""
    named: list[tuple[zipfile.ZipInfo, tuple[str, ...]]] = []
    folders: set[tuple[str, ...]] = set()
    for member in entries:
        pieces = PurePosixPath(member.filename.replace("\\", "/")).parts
        parts = tuple(safe_name(p) for p in pieces if p not in ("", ".", "..", "/"))
        if not parts or "__MACOSX" in parts:
            continue
        folders.update(parts[:i] for i in range(1, len(parts)))
        if member.is_dir():
            folders.add(parts)
        else:
            named.append((member, parts))
    plan: list[tuple[zipfile.ZipInfo, list[str]]] = []
    taken: set[tuple[str, ...]] = set()
    total = 0
    for member, parts in named:
        reason = None
        if parts in folders:
            reason = "a file and a folder in the archive have the same name"
        elif parts in taken:
            reason = "another file in the archive has the same name"
        elif member.flag_bits & 0x1:
            reason = "encrypted: it needs a password; zip it again without one"
        elif member.compress_type not in METHODS:
            reason = f"compression method {member.compress_type} is not supported (zip it again with deflate)"
        elif member.file_size > max_bytes or total + member.file_size > max_bytes * 4:
            reason = "too large once unpacked"
        if reason:
            saved.refused.append((f"{raw_name}: {member.filename}", reason))
            continue
        taken.add(parts)
        total += member.file_size
        plan.append((member, list(parts)))
    return plan


def _extract(archive: zipfile.ZipFile, member: zipfile.ZipInfo, path: Path) -> None:
    """Copy one member to a new file, reading no more than its header promises; zipfile checks the CRC."""
    size = 0
    with archive.open(member) as source, path.open("xb") as out:
        while chunk := source.read(1024 * 1024):
            size += len(chunk)
            if size > member.file_size:
                raise _Damaged(f"it holds more than the {member.file_size} bytes its size field says")
            out.write(chunk)
    if size != member.file_size:
        raise _Damaged(f"its size field says {member.file_size} bytes, it holds {size}")
