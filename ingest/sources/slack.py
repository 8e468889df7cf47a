"""Slack workspace exports: users.json, channels.json and ``<channel>/<YYYY-MM-DD>.json`` day files.

One record per channel. Thread replies follow their parent; user ids become names; Slack markup
(``<@U123>``, ``<#C1|name>``, ``<url|label>``) becomes plain text.
"""

from __future__ import annotations

import hashlib
import json
import re
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ingest.sources.base import ParseOptions, content_hash, finish_record, redact_text, slug
from kb.core.errors import EmptyDocument, ParseError
from kb.core.models import Kind, Message, Record, Section

DAY_FILE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}\.json$")


def is_export(path: Path) -> bool:
    return path.is_dir() and (path / "channels.json").is_file() and (path / "users.json").is_file()


def inside(export: Path, path: Path) -> Path:
    """``path`` when it (links followed) lies inside the export folder; a ParseError otherwise."""
    try:
        real, root = path.resolve(), export.resolve()
    except (OSError, RuntimeError) as exc:  # a loop of links (RuntimeError before Python 3.13)
        raise ParseError(str(path), "a loop of symbolic links") from exc
    if real != root and root not in real.parents:
        raise ParseError(str(path), f"a symbolic link to {real}, outside the export folder: not read")
    return path


def _read(export: Path, path: Path, options: ParseOptions) -> bytes:
    """The bytes of a regular file inside the export, within the size limit."""
    inside(export, path)
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):  # a pipe or device would block or never end
            raise ParseError(str(path), "not a regular file")
        if info.st_size > options.max_bytes:
            raise ParseError(str(path), f"file is {info.st_size / 1048576:.1f} MB, over the limit (KB_MAX_FILE_MB)")
        return path.read_bytes()
    except OSError as exc:
        raise ParseError(str(path), f"cannot read: {exc.strerror or exc}") from exc


def _load_json(export: Path, path: Path, options: ParseOptions) -> Any:
    data = _read(export, path, options)
    try:
        return json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ParseError(str(path), f"not valid UTF-8 (bad byte at offset {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise ParseError(str(path), f"broken JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    except ValueError as exc:  # a number longer than int() converts
        raise ParseError(str(path), f"unreadable JSON: {exc}") from exc
    except RecursionError as exc:
        raise ParseError(str(path), "JSON nested too deeply") from exc


def _users(export: Path, options: ParseOptions) -> dict[str, str]:
    data = _load_json(export, export / "users.json", options)
    if not isinstance(data, list):
        raise ParseError(str(export / "users.json"), "expected a JSON list of users")
    names: dict[str, str] = {}
    for user in data:
        if isinstance(user, dict) and "id" in user:
            profile: dict[str, Any] = user["profile"] if isinstance(user.get("profile"), dict) else {}
            names[str(user["id"])] = str(
                profile.get("display_name") or user.get("name") or profile.get("real_name") or user["id"]
            )
    return names


def _plain(text: str, users: dict[str, str], channels: dict[str, str]) -> str:
    # Slack escapes "<" in message text, so a token never holds one: excluding it keeps each scan to one token
    text = re.sub(
        r"<@([A-Z0-9]+)(?:\|([^<>]+))?>", lambda m: "@" + (m.group(2) or users.get(m.group(1), m.group(1))), text
    )
    text = re.sub(
        r"<#([A-Z0-9]+)(?:\|([^<>]*))?>", lambda m: "#" + (m.group(2) or channels.get(m.group(1), m.group(1))), text
    )
    text = re.sub(r"<!(here|channel|everyone)[^<>]*>", r"@\1", text)
    text = re.sub(r"<((?:https?|mailto):[^|<>]+)\|([^<>]+)>", r"\2 (\1)", text)
    text = re.sub(r"<((?:https?|mailto):[^<>]+)>", r"\1", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _channels(export: Path, options: ParseOptions) -> list[Any]:
    data = _load_json(export, export / "channels.json", options)
    if not isinstance(data, list):
        raise ParseError(str(export / "channels.json"), "expected a JSON list of channels")
    return data


def channel_folder(export: Path, name: str) -> Path:
    """The folder of a channel, refusing a name that is not one plain folder name inside the export."""
    if name in {".", ".."} or any(c in name for c in "/\\\0") or len(name.encode()) > 255:
        raise ParseError(str(export / "channels.json"), f"channel name {name[:80]!r} is not a folder name")
    return inside(export, export / name)


def _day_files(export: Path, folder: Path) -> list[Path]:
    try:
        return [inside(export, f) for f in sorted(folder.iterdir()) if DAY_FILE_RE.match(f.name)]
    except OSError as exc:
        raise ParseError(str(folder), f"cannot list the folder: {exc.strerror or exc}") from exc


def message_time(ts: object) -> datetime:
    """A message's 'ts' (seconds since 1970 as a string or number) as naive UTC; ValueError when invalid."""
    try:
        return datetime.fromtimestamp(float(ts), tz=UTC).replace(tzinfo=None)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError, OSError) as exc:  # 'abc', nan, 1e300, inf, year 33658
        raise ValueError(f"'ts' {str(ts)[:40]!r} is not a time") from exc


def _channel_messages(export: Path, folder: Path, options: ParseOptions) -> list[dict[str, Any]]:
    raw: list[dict[str, Any]] = []
    for day_file in _day_files(export, folder):
        data = _load_json(export, day_file, options)
        if not isinstance(data, list):
            raise ParseError(str(day_file), "expected a JSON list of messages")
        for item in data:
            if not isinstance(item, dict):
                raise ParseError(str(day_file), "a message is not a JSON object")
            if item.get("subtype") in {"channel_join", "channel_leave"}:
                continue
            try:
                message_time(item.get("ts", ""))
            except ValueError as exc:
                raise ParseError(str(day_file), f"message without a valid 'ts' ({exc}): {str(item)[:80]}") from exc
            raw.append(item)
    return raw


def _thread_order(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Top-level messages by time, each followed by its replies by time."""
    raw.sort(key=lambda m: float(m["ts"]))
    replies: dict[str, list[dict[str, Any]]] = {}
    top: list[dict[str, Any]] = []
    for msg in raw:
        thread = msg.get("thread_ts")
        if thread and thread != msg["ts"]:
            replies.setdefault(str(thread), []).append(msg)
        else:
            top.append(msg)
    ordered: list[dict[str, Any]] = []
    tops = {m["ts"] for m in top}
    for msg in top:
        ordered.append(msg)
        ordered.extend(replies.pop(str(msg["ts"]), []))
    for thread, orphans in replies.items():  # replies whose parent is not in the export
        ordered.extend(m for m in orphans if thread not in tops)
    return ordered


def export_hash(path: Path, options: ParseOptions) -> str:
    """One hash over every file ``parse`` reads (users, channels and the listed channels' day files), so an
    unchanged export is skipped unparsed. Nothing outside the export is read."""
    files = [path / "users.json", path / "channels.json"]
    for channel in _channels(path, options):
        if isinstance(channel, dict) and channel.get("name"):
            folder = channel_folder(path, str(channel["name"]))
            if folder.is_dir():
                files.extend(_day_files(path, folder))
    digest = hashlib.sha256()
    for file in files:
        digest.update(str(file.relative_to(path)).encode() + b"\0")
        digest.update(hashlib.sha256(_read(path, file, options)).digest())
    return content_hash(digest.digest(), options)


@dataclass
class _Transcript:
    """A channel's messages as one text, a line each (a reply indented under its thread)."""

    text: str
    messages: list[Message]  # each with its line's place in ``text``
    redactions: int  # secrets and personal data replaced


def _transcript(
    ordered: list[dict[str, Any]], users: dict[str, str], channels: dict[str, str], options: ParseOptions
) -> _Transcript:
    lines: list[str] = []
    messages: list[Message] = []
    redactions = 0
    offset = 0
    for msg in ordered:
        author = users.get(str(msg.get("user")), "") or str(msg.get("username") or msg.get("bot_id") or "unknown")
        ts = message_time(msg["ts"])
        redacted = redact_text(_plain(str(msg.get("text") or ""), users, channels), options)
        redactions += redacted.total
        is_reply = bool(msg.get("thread_ts") and msg.get("thread_ts") != msg["ts"])
        prefix = "  ↳ " if is_reply else ""
        line = f"{prefix}[{ts:%Y-%m-%d %H:%M:%S}] {author}: {redacted.text}"
        messages.append(
            Message(
                ts=ts,
                author=author,
                text=redacted.text,
                thread_ts=str(msg.get("thread_ts") or "") or None,
                start=offset,
                end=offset + len(line),
            )
        )
        lines.append(line)
        offset += len(line) + 1
    return _Transcript("\n".join(lines), messages, redactions)


def _channel_record(
    path: Path, channel: dict[str, Any], transcript: _Transcript, data_hash: str, options: ParseOptions
) -> Record:
    """The chat record of one channel: its transcript, titled by its name and topic."""
    name = str(channel["name"])
    text = transcript.text
    purpose: dict[str, Any] = channel["purpose"] if isinstance(channel.get("purpose"), dict) else {}
    topic: dict[str, Any] = channel["topic"] if isinstance(channel.get("topic"), dict) else {}
    record = finish_record(
        path=path,
        source_key=f"{path}#{name}",
        record_id=slug(name),
        fmt="slack",
        data_hash=data_hash,
        text=text,
        sections=[Section(name="chat", heading=f"#{name}", start=0, end=len(text))],
        front={"kind": (options.kind or Kind.chat).value},
        title=f"#{name}" + (f": {topic.get('value')}" if topic.get("value") else ""),
        redactions=transcript.redactions,
        options=options,
        default_kind=Kind.chat,
    )
    record.messages = transcript.messages
    record.front_matter["purpose"] = str(purpose.get("value") or "")
    record.date = transcript.messages[0].ts.date() if transcript.messages[0].ts else None
    return record


def parse(path: Path, options: ParseOptions) -> list[Record]:
    """One chat record per channel of a Slack export folder: each listed channel's day files are read, put in
    thread order, written out as a transcript and made a record."""
    data_hash = export_hash(path, options)
    users = _users(path, options)
    channels_data = _channels(path, options)
    channel_names = {str(c.get("id")): str(c.get("name")) for c in channels_data if isinstance(c, dict)}
    records: list[Record] = []
    read: set[Path] = set()  # a channel listed twice (or linked under two names) is read once
    for channel in channels_data:
        if not isinstance(channel, dict) or not channel.get("name"):
            continue
        folder = channel_folder(path, str(channel["name"]))
        if not folder.is_dir() or folder.resolve() in read:
            continue
        read.add(folder.resolve())
        ordered = _thread_order(_channel_messages(path, folder, options))
        if not ordered:
            continue
        transcript = _transcript(ordered, users, channel_names, options)
        records.append(_channel_record(path, channel, transcript, data_hash, options))
    if not records:
        raise EmptyDocument(str(path), "Slack export has no channel with messages")
    return records
