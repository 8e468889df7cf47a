"""Reading structured text that anyone may have written, within bounds of time and memory.

YAML aliases (``*name``) are refused: a few hundred bytes of anchors and aliases name billions of
items, and whatever walks the loaded data (a record's metadata, an alert's labels) walks them all.
Nesting is capped for YAML and JSON alike, since the loaders and the code that reads their output
recurse. Sizes are checked before parsing, by the caller's limit.

A refusal raises ``Refused`` with a one-line reason; callers add the file or source it came from.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

import re2
import yaml

#: deeper than any front matter or alert payload, shallow enough for every recursive reader
MAX_DEPTH = 64

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Cue(Protocol):
    """A compiled pattern asked only whether it occurs."""

    def search(self, text: str) -> object | None: ...


def linear(pattern: str, *, ignore_case: bool = True) -> Cue:
    """``pattern`` compiled by RE2, whose matching time is linear in the text whatever the pattern: for long
    alternations of words, which Python's engine tries at every position (about 100 times slower on a
    1 MB text). RE2 reads ``\\b`` and ``\\w`` as ASCII and has no look-around or possessive quantifiers."""
    compiled: Cue = re2.compile(("(?i)" if ignore_case else "") + pattern)
    return compiled


class Refused(ValueError):
    """The text is not read, for the reason given (one line)."""


def check_size(text: str, limit: int, what: str) -> None:
    """``Refused`` when ``text`` is over ``limit`` bytes of UTF-8."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > limit:
        raise Refused(f"{what} is {_kb(size)}, over the {_kb(limit)} limit")


def _kb(size: int) -> str:
    return f"{size / 1024:.0f} KB" if size >= 1024 else f"{size} bytes"


def load_yaml(text: str, what: str = "YAML") -> Any:
    """``yaml.safe_load(text)``, refusing aliases and nesting deeper than ``MAX_DEPTH``.

    Syntax errors raise ``yaml.YAMLError`` as ``safe_load`` does.
    """
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.AliasEvent):
            raise Refused(f"{what} uses a YAML alias (*{event.anchor}); aliases are not accepted")
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise Refused(f"{what} is nested more than {MAX_DEPTH} levels deep")
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader, aliases already refused


def load_json(text: str, what: str = "JSON") -> Any:
    """``json.loads(text)``, refusing nesting deeper than ``MAX_DEPTH``.

    Syntax errors raise ``json.JSONDecodeError`` as ``json.loads`` does.
    """
    try:
        data = json.loads(text)
    except RecursionError as exc:
        raise Refused(f"{what} is nested more than {MAX_DEPTH} levels deep") from exc
    if nesting(data) > MAX_DEPTH:
        raise Refused(f"{what} is nested more than {MAX_DEPTH} levels deep")
    return data


def nesting(data: Any) -> int:
    """How deep lists and dicts nest in ``data`` (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth + 1)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest
