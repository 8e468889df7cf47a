"""Secrets are replaced with a marker before anything is parsed further, embedded or stored.

Each rule names what it found; the marker says which rule fired (``[REDACTED:aws-access-key]``), so a
reader knows something was there without seeing it. Rules that need context (``password=...``) keep
the context and replace only the value.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: re.Pattern[str]
    group: int = 0  # which group is the secret; 0 = the whole match


def _r(name: str, pattern: str, group: int = 0, flags: int = 0) -> Rule:
    return Rule(name, re.compile(pattern, flags), group)


RULES: tuple[Rule, ...] = (
    _r("private-key", r"-----BEGIN [A-Z ]*PRIVATE KEY( BLOCK)?-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY( BLOCK)?-----"),
    _r("aws-access-key", r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[A-Z0-9]{16}\b"),
    _r("aws-secret-key", r"(?i)(aws_?secret_?(?:access_?)?key(?:_id)?[\"']?\s*[:=]\s*[\"']?)([A-Za-z0-9/+]{40})\b", 2),
    _r("github-token", r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{40,255})\b"),
    _r("gitlab-token", r"\bglpat-[A-Za-z0-9_-]{20,}\b"),
    _r("slack-token", r"\bxox[abposr]-(?:[A-Za-z0-9]+-){1,4}[A-Za-z0-9]+\b"),
    _r("slack-webhook", r"https://hooks\.slack\.com/services/[A-Za-z0-9/_-]+"),
    _r("stripe-key", r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}\b"),
    _r("openai-key", r"\bsk-(?:proj-|ant-|svcacct-)?[A-Za-z0-9_-]{20,}\b"),
    _r("google-api-key", r"\bAIza[0-9A-Za-z_-]{35}\b"),
    _r("jwt", r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}"),
    _r("bearer-token", r"(?i)(\bbearer\s+)([A-Za-z0-9._~+/=-]{16,})", 2),
    _r("url-password", r"\b([a-z][a-z0-9+.-]{1,20}://[^\s:/@\"'`]*:)([^\s@/\"'`]{3,})(@)", 2),
    _r(
        "conn-string-password",
        r"(?i)((?:^|[;\s\"'])(?:password|pwd)\s*=\s*)([^;\s\"'`]{3,})",
        2,
    ),
    _r(
        "password-assignment",
        r"(?i)((?:\b|_)(?:password|passwd|pgpassword|secret|api_?key|access_?token|auth_?token|client_?secret)"
        r"[\"']?\s*[:=]\s*[\"']?)([^\s\"'`,;)}\]]{4,})",
        2,
    ),
    # a password flag's value; "-p key=value" is a parameter (argocd app set, helm), not a password
    _r(
        "cli-password",
        r"(?:\s)(-p|--password|-a|--pass)(\s+|=)(['\"]?)(?![A-Za-z_][\w.\-\[\]]*=[^\s=])([^\s'\"`]{6,})\3",
        4,
    ),
)


@dataclass
class Redaction:
    """The redacted text and what was replaced."""

    text: str
    counts: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _looks_like_placeholder(value: str) -> bool:
    lowered = value.lower().strip("<>{}$")
    return (
        value.startswith("[REDACTED")
        or value.startswith(("$", "<", "{{", "${", "%"))
        or lowered in {"xxx", "xxxx", "****", "redacted", "changeme", "none", "null", "true", "false"}
        or set(value) <= {"*", "x", "X", "."}
    )


def redact(text: str, enabled: bool = True) -> Redaction:
    """Replace every secret in ``text`` with ``[REDACTED:<rule>]``."""
    result = Redaction(text)
    if not enabled or not text:
        return result
    for rule in RULES:

        def replace(match: re.Match[str], rule: Rule = rule) -> str:
            secret = match.group(rule.group)
            if rule.group and _looks_like_placeholder(secret):
                return match.group(0)
            result.counts[rule.name] += 1
            if rule.group == 0:
                return f"[REDACTED:{rule.name}]"
            start, end = match.span(rule.group)
            base = match.start(0)
            whole = match.group(0)
            return whole[: start - base] + f"[REDACTED:{rule.name}]" + whole[end - base :]

        result.text = rule.pattern.sub(replace, result.text)
    return result
