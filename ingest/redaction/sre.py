"""Our own rules on top of the maintained set: how secrets appear in runbooks, shells and chat.

Connection strings and URLs with a password, ``PGPASSWORD=`` and other assignments whose name says
"password/secret/token/key", the password flags of the tools on-call runs (``redis-cli -a``,
``mysql -p...``, ``docker login -p``, ``ldapsearch -w``, ``ipmitool -P``...), ``Authorization`` and
``X-...-Token`` headers, ``curl -u user:pass``, AWS key ids on their own, "the password is ..." in
chat, and private keys (:mod:`ingest.redaction.private_key`).

Every pattern is compiled with RE2, so matching time is linear in the input whatever it holds.
A value is replaced only when it looks like a secret and not like a placeholder (``$DB_PASS``,
``<password>``, ``{{ vault_pw }}``, ``changeme``) or a plain word ("The secret: rotation"): a
command whose flag takes a port or a folder (``-p 5000:5000``, ``mkdir -p``) stays as written,
because a flag counts only for the command that gives it the password meaning.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import re2

from ingest.redaction.scanner import Span, windows

_KEY_NAMES = r"(?:pass(?:word|wd|phrase)?|pwd|secret|token|key|apikey|credentials?)"


@dataclass(frozen=True)
class Found:
    """What a check needs of a match: the key and separator groups (assignments) and the line."""

    key: str
    sep: str
    line: str


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: re2._Regexp
    group: int
    check: Callable[[str, Found], bool]


def entropy(value: str) -> float:
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


_PLACEHOLDER_WORDS = frozenset(
    {"changeme", "change-me", "password", "secret", "redacted", "none", "null", "true", "false", "example"}
)
_PLACEHOLDER_PREFIXES = ("your-", "your_", "replace", "dummy", "example", "placeholder")


def is_placeholder(value: str) -> bool:
    """``$VAR``, ``${VAR}``, ``<password>``, ``{{ x }}``, ``%VAR%``, ``changeme``, ``xxxx``..."""
    stripped = value.strip("\"'`")
    lowered = stripped.lower()
    if not stripped or stripped.startswith(("$", "<", "{", "[", "%", "(", "/", "~", "./")):
        return True
    if "[REDACTED:" in stripped:  # redacted already: a second pass must not swallow the marker
        return True
    if stripped.endswith((">", "}}", "%")):
        return True
    if not lowered.strip("x*._-#") or "..." in stripped or "\u2026" in stripped:
        return True  # masked ("****") or cut short for display ("sess:8a41...")
    if lowered in _PLACEHOLDER_WORDS or lowered.startswith(_PLACEHOLDER_PREFIXES):
        return True
    # "super-secret-key", "my-api-token": lowercase words joined by dashes describe, they do not hide
    parts = lowered.replace("_", "-").replace(".", "-").split("-")
    return len(parts) >= 2 and all(p.isalpha() for p in parts if p)


def looks_like_word(value: str) -> bool:
    """A plain lowercase word or phrase, as prose has after "secret:"."""
    return value.isalpha() and (value.islower() or value.istitle())


def looks_secret(value: str) -> bool:
    """Long enough, several kinds of characters, not a placeholder and not a word."""
    if len(value) < 6 or is_placeholder(value) or looks_like_word(value):
        return False
    classes = sum(
        (
            any(c.islower() for c in value),
            any(c.isupper() for c in value),
            any(c.isdigit() for c in value),
            any(not c.isalnum() for c in value),
        )
    )
    return classes >= 2 and entropy(value) >= 2.5


def _password(value: str, _found: Found) -> bool:
    """A value given to a password flag or a password-named key: anything but a placeholder."""
    return len(value) >= 3 and not is_placeholder(value)


def _assignment(value: str, found: Found) -> bool:
    key, sep = found.key.lower(), found.sep
    if key.strip("_") in {"pwd", "oldpwd"} and ";" not in found.line:
        return False  # the shell's working directory, not a connection string's Pwd=
    if key.endswith(("file", "path", "ref", "name", "_id", "id", "size", "type", "length", "count")):
        return False  # names a file, a reference or a property of the secret, not the secret
    if ":" in sep and '"' not in sep and "'" not in sep:
        return looks_secret(value)  # "The secret: rotation happens..." is prose
    return _spoken_password(value, found) if "pass" in key or "pwd" in key else looks_secret(value)


def _spoken_password(value: str, found: Found) -> bool:
    """A password where prose could stand too: anything but a placeholder or a plain word."""
    return _password(value, found) and not looks_like_word(value)


def _secret_shaped(value: str, _found: Found) -> bool:
    return looks_secret(value)


def _any_value(value: str, _found: Found) -> bool:
    return not is_placeholder(value)


def _r(name: str, pattern: str, group: int, check: Callable[[str, Found], bool]) -> Rule:
    return Rule(name, re2.compile(pattern.encode()), group, check)


_VALUE = r"""["']?([^\s"'`,;)}\]|&]+)"""
_CMD_END = r"""[^\n|;&]*?"""

RULES: tuple[Rule, ...] = (
    _r("aws-access-key-id", r"\b((?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA)[A-Z0-9]{16})\b", 1, _any_value),
    _r("openai-key", r"\b(sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{20,})", 1, _any_value),
    _r(
        "url-password",
        r"""\b[a-z][a-z0-9+.-]{1,20}://[^\s:/@"'`]*:([^\s@/"'`]+)@""",
        1,
        _any_value,
    ),
    _r(
        "password-assignment",
        r"(?i)(?:^|[^A-Za-z0-9])([A-Za-z0-9_.-]*"
        + _KEY_NAMES
        + r"""[A-Za-z0-9_.-]*)(["']?\s*(?:=|:|=>)\s*["']?)([^\s"'`,;)}\]&]+)""",
        3,
        _assignment,
    ),
    _r(
        "auth-header",
        r"""(?i)\b(?:proxy-)?authorization["']?\s*[:=]\s*["']?(?:(?:bearer|token|basic|digest|apikey|api-key|sso-key|ssws|bot|negotiate|key)\s+)?([A-Za-z0-9._~+/=:-]{8,})""",
        1,
        _any_value,
    ),
    _r(
        "auth-header",
        r"""(?i)\b((?:x-)?[a-z0-9-]*(?:token|api-?key|apikey|secret|signature|password|auth)[a-z0-9-]*)\s*:\s*["']?([A-Za-z0-9._~+/=:-]{8,})""",
        2,
        _secret_shaped,
    ),
    _r("curl-user", r"""(?:^|\s)(?:-u|--user)\s*["']?[^\s:"']+:([^\s"']+)""", 1, _any_value),
    _r("cli-password", r"\bmysql(?:dump|admin|import|check|sh)?\b" + _CMD_END + r"""\s-p([^\s'"]\S*)""", 1, _password),
    _r("cli-password", r"\bredis-cli\b" + _CMD_END + r"\s(?:-a|--pass)\s+" + _VALUE, 1, _password),
    _r(
        "cli-password",
        r"""\b(?:(?:docker|podman|buildah|skopeo|nerdctl|oras|crane|helm\s+registry)\s+login|sshpass)\b"""
        + _CMD_END
        + r"""\s-p\s*"""
        + _VALUE,
        1,
        _password,
    ),
    _r("cli-password", r"""\bipmitool\b""" + _CMD_END + r"""\s-P\s+""" + _VALUE, 1, _password),
    _r("cli-password", r"""\bldap[a-z]*\b""" + _CMD_END + r"""\s-w\s+""" + _VALUE, 1, _password),
    _r("cli-password", r"""\bsnmp[a-z]*\b""" + _CMD_END + r"""\s-[AX]\s+""" + _VALUE, 1, _password),
    _r("cli-password", r"""\brabbitmqctl\s+(?:change_password|add_user)\s+\S+\s+""" + _VALUE, 1, _password),
    _r(
        "cli-password",
        r"""(?:^|\s)--(?:password|passwd|pass|token|api-key|secret|client-secret|auth-token)(?:=|\s+)""" + _VALUE,
        1,
        _spoken_password,
    ),
    _r("cli-password", r"""\becho\s+["']?([^\s|"'$]+)["']?\s*\|""" + _CMD_END + r"""--password-stdin""", 1, _password),
    _r(
        "password-in-text",
        r"""(?i)\b(?:password|passwd|passphrase|token|secret|key|credentials?)\b(?:\s+[A-Za-z-]+){0,4}?\s+(?:is|was|are|=)(?:\s*:\s*|\s+)["']?([^\s,;()"']+)""",
        1,
        _secret_shaped,
    ),
)


_NO_CONTEXT = Found("", "", "")
_UNANCHORED = re2._Anchor.UNANCHORED


def _spans(pattern: re2._Regexp, data: bytes) -> Iterator[tuple[tuple[int, int], ...]]:
    """(whole, group 1, group 2...) byte spans of each match, left to right, without overlaps.

    The binding's own loop (``finditer``) builds a Match object per match, which made a megabyte
    with a match every 12 bytes take seconds; this asks the compiled RE2 directly.
    """
    regexp = pattern._regexp
    position, end = 0, len(data)
    while position <= end:
        spans = regexp.Match(_UNANCHORED, data, position, end)
        if spans[0][0] < 0:
            return
        yield spans
        position = spans[0][1] + (spans[0][1] == spans[0][0])


def scan(text: str) -> Iterator[Span]:
    """Every rule over windows of a few kilobytes cut at line ends, as UTF-8 bytes.

    Windows keep the cost of one match bounded (the RE2 binding converts offsets from the start of
    the string it is given) and bytes avoid that conversion altogether (a megabyte of
    ``curl -u a:b`` took 2 s as text and 0.6 s as bytes).
    """
    for first, last in windows(text):
        window = text[first:last]
        data = window.encode("utf-8", "replace")  # a lone surrogate becomes one '?': offsets still agree
        ascii_only = len(data) == len(window)
        for rule in RULES:
            known = (0, 0)  # (byte, character) offset already converted: matches come left to right
            for spans in _spans(rule.pattern, data):
                start, end = spans[rule.group]
                if start < 0 or end <= start:
                    continue
                found = _NO_CONTEXT
                if rule.group == 3:  # an assignment: its key, separator and line
                    (key_start, key_end), (sep_start, sep_end) = spans[1], spans[2]
                    if data[max(0, key_start - 3) : key_start] == b"://":
                        continue  # a URL's user name ("https://x-access-token:...@"): url-password's

                    key = data[key_start:key_end].decode("utf-8", "replace")
                    line = ""
                    if key.strip("_").lower() in {"pwd", "oldpwd"}:
                        line_start = data.rfind(b"\n", 0, spans[0][0]) + 1
                        line_end = data.find(b"\n", spans[0][1])
                        line = data[line_start : line_end if line_end >= 0 else len(data)].decode("utf-8", "replace")
                    found = Found(key, data[sep_start:sep_end].decode("utf-8", "replace"), line)
                if rule.check(data[start:end].decode("utf-8", "replace"), found):
                    if not ascii_only:  # byte offsets to character offsets
                        byte_start = start
                        start = known[1] + len(data[known[0] : start].decode("utf-8", "replace"))
                        end = start + len(data[byte_start:end].decode("utf-8", "replace"))
                        known = (byte_start, start)
                    yield Span(first + start, first + end, rule.name, window[start:end])
