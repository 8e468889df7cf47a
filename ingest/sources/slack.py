"""Slack workspace exports: users.json, channels.json and ``<channel>/<YYYY-MM-DD>.json`` day files.

One record per channel. Thread replies follow their parent; user ids become names; Slack markup
(``<@U123>``, ``<#C1|name>``, ``<url|label>``) becomes plain text.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ingest.sources.base import ParseOptions, content_hash, finish_record, redact_text, slug
from kb.errors import EmptyDocument, ParseError
from kb.models import Kind, Message, Record, Section

DAY_FILE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}\.json$")


def is_export(path: Path) -> bool:
    return path.is_dir() and (path / "channels.json").is_file() and (path / "users.json").is_file()


def _load_json(path: Path, options: ParseOptions) -> Any:
    try:
        size = path.stat().st_size
        if size > options.max_bytes:
            raise ParseError(str(path), f"file is {size / 1048576:.1f} MB, over the limit (KB_MAX_FILE_MB)")
        return json.loads(path.read_bytes().decode("utf-8-sig"))
    except ParseError:
        raise
    except UnicodeDecodeError as exc:
        raise ParseError(str(path), f"not valid UTF-8 (bad byte at offset {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise ParseError(str(path), f"broken JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    except RecursionError as exc:
        raise ParseError(str(path), "JSON nested too deeply") from exc
    except OSError as exc:
        raise ParseError(str(path), f"cannot read: {exc.strerror or exc}") from exc


def _users(export: Path, options: ParseOptions) -> dict[str, str]:
    data = _load_json(export / "users.json", options)
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


def _channel_messages(folder: Path, options: ParseOptions) -> list[dict[str, Any]]:
    raw: list[dict[str, Any]] = []
    for day_file in sorted(folder.iterdir()):
        if not DAY_FILE_RE.match(day_file.name):
            continue
        data = _load_json(day_file, options)
        if not isinstance(data, list):
            raise ParseError(str(day_file), "expected a JSON list of messages")
        for item in data:
            if not isinstance(item, dict):
                raise ParseError(str(day_file), "a message is not a JSON object")
            if item.get("subtype") in {"channel_join", "channel_leave"}:
                continue
            try:
                float(item.get("ts", ""))
            except (TypeError, ValueError) as exc:
                raise ParseError(str(day_file), f"message without a valid 'ts': {str(item)[:80]}") from exc
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
    """One hash over every JSON file of the export, so an unchanged export is skipped unparsed."""
    digest = hashlib.sha256()
    for file in sorted(path.rglob("*.json")):
        digest.update(str(file.relative_to(path)).encode() + b"\0")
        try:
            digest.update(file.read_bytes())
        except OSError as exc:
            raise ParseError(str(file), f"cannot read: {exc.strerror or exc}") from exc
    return content_hash(digest.digest(), options)


def parse(path: Path, options: ParseOptions) -> list[Record]:
    """One chat record per channel of a Slack export folder."""
    data_hash = export_hash(path, options)
    users = _users(path, options)
    channels_data = _load_json(path / "channels.json", options)
    if not isinstance(channels_data, list):
        raise ParseError(str(path / "channels.json"), "expected a JSON list of channels")
    channel_names = {str(c.get("id")): str(c.get("name")) for c in channels_data if isinstance(c, dict)}
    records: list[Record] = []
    for channel in channels_data:
        if not isinstance(channel, dict) or not channel.get("name"):
            continue
        name = str(channel["name"])
        folder = path / name
        if not folder.is_dir():
            continue
        ordered = _thread_order(_channel_messages(folder, options))
        if not ordered:
            continue
        lines: list[str] = []
        messages: list[Message] = []
        redactions = 0
        offset = 0
        for msg in ordered:
            author = users.get(str(msg.get("user")), "") or str(msg.get("username") or msg.get("bot_id") or "unknown")
            ts = datetime.fromtimestamp(float(msg["ts"]), tz=UTC).replace(tzinfo=None)
            redacted = redact_text(_plain(str(msg.get("text") or ""), users, channel_names), options)
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
        text = "\n".join(lines)
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
            redactions=redactions,
            options=options,
            default_kind=Kind.chat,
        )
        record.messages = messages
        record.front_matter["purpose"] = str(purpose.get("value") or "")
        record.date = messages[0].ts.date() if messages[0].ts else None
        records.append(record)
    if not records:
        raise EmptyDocument(str(path), "Slack export has no channel with messages")
    return records
