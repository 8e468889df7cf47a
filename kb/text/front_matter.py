"""Markdown front matter, the one reader for every Markdown file (ingested documents and runbook revisions
alike): read it (aliases refused, sizes bounded) and set fields in it without touching its other lines."""

from __future__ import annotations

import re
from typing import Any

import yaml

from kb.core.bounded import Refused, check_size, load_yaml

FRONT_MATTER_RE = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)

#: front matter is a few lines of metadata; more than this is not read
MAX_FRONT_MATTER_BYTES = 64 * 1024


def split_front_matter(text: str) -> tuple[dict[str, Any], int]:
    """(front matter as a dict, offset where the body starts). Broken YAML counts as no front matter;
    front matter too large, too deep or using YAML aliases raises ``bounded.Refused``."""
    match = FRONT_MATTER_RE.match(text)
    if not match:
        return {}, 0
    check_size(match.group(1), MAX_FRONT_MATTER_BYTES, "the front matter")
    try:
        data = load_yaml(match.group(1), "the front matter")
    except Refused:  # aliases, nesting: the file is refused with the reason
        raise
    except (yaml.YAMLError, ValueError, OverflowError, RecursionError):  # 2024-02-30, 5000 digits
        return {}, 0
    if not isinstance(data, dict):
        return {}, 0
    return {str(k).lower(): v for k, v in data.items()}, match.end()


def split_front(markdown: str) -> tuple[dict[str, Any], str]:
    """The front matter as a mapping (empty when there is none or it cannot be read, refusals included) and
    the text after it."""
    try:
        front, start = split_front_matter(markdown)
    except Refused:
        return {}, markdown
    return front, markdown[start:]


def set_front_fields(markdown: str, fields: dict[str, Any]) -> str:
    """The Markdown with these front-matter fields set, every other line of the front matter as written
    (so the file differs from the approved diff only by these bookkeeping lines); a field not there yet is
    added at the end of the front matter, and front matter is added when there is none."""
    match = FRONT_MATTER_RE.match(markdown)
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
