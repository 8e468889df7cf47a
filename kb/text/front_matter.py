"""Markdown front matter as runbook files carry it: read it (aliases refused, sizes bounded) and set fields
in it without touching its other lines."""

from __future__ import annotations

import re
from typing import Any

import yaml

from kb.core.bounded import Refused, load_yaml


def split_front(markdown: str) -> tuple[dict[str, Any], str]:
    """The front matter as a mapping (empty when there is none or it cannot be read) and the text after it."""
    match = re.match(r"^---\s*\n(.*?)\n---\s*\n", markdown, re.S)
    if not match:
        return {}, markdown
    try:
        front = load_yaml(match.group(1), "the front matter") or {}
    except (yaml.YAMLError, Refused):
        return {}, markdown
    return (front if isinstance(front, dict) else {}), markdown[match.end() :]


def set_front_fields(markdown: str, fields: dict[str, Any]) -> str:
    """The Markdown with these front-matter fields set, every other line of the front matter as written
    (so the file differs from the approved diff only by these bookkeeping lines)."""
    match = re.match(r"^---\s*\n(.*?)\n---\s*\n", markdown, re.S)
    lines = match.group(1).split("\n") if match else []
    body = markdown[match.end() :] if match else markdown
    for key, value in fields.items():
        line = yaml.safe_dump({key: value}, allow_unicode=True, default_flow_style=False).strip()
        at = next((n for n, old in enumerate(lines) if re.match(rf"^{re.escape(key)}\s*:", old)), None)
        if at is None:
            lines.append(line)
        else:
            lines[at] = line
    return "---\n" + "\n".join(lines) + "\n---\n" + body
