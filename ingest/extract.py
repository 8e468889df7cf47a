"""Metadata pulled out of document text: section names, severity, dates, services, alerts, errors."""

from __future__ import annotations

import functools
import re
from datetime import date, datetime
from typing import Any

from kb.core.enums import SectionName
from kb.retrieval.sectioning import clean_heading, exact_names, name_sections
from kb.text.fences import Fences, Role


def as_list(value: Any) -> list[str]:
    """Front-matter lists may be YAML lists or comma-separated strings."""
    if value is None:
        return []
    if isinstance(value, (list, tuple, set)):
        return [str(v).strip() for v in value if str(v).strip()]
    return [v.strip() for v in re.split(r"[,;]", str(value)) if v.strip()]


SEVERITY_RE = re.compile(r"\b(?:SEV|Sev|sev)[- ]?([0-5])\b|\bP([0-4])\b")
#: Markdown emphasis, list dashes and spaces before a "Key:" on its line. Not "\s", which crosses lines:
#: from every blank line a scan would run to the end of the blank run and back (quadratic).
_LEAD = r"^(?:[^\S\n]|[*_-])*+"
SEVERITY_LINE_RE = re.compile(rf"(?im){_LEAD}(?:severity|sev|priority)[*_\s]*+[:=][*_\s]*+([^\n]+)$")


def normalise_severity(value: Any) -> str | None:
    """'sev2', 'SEV-2', 'P2', 2 -> 'SEV2'."""
    if value is None:
        return None
    text = str(value).strip()
    if text.isascii() and text.isdigit() and len(text) <= 3:
        return f"SEV{int(text)}"
    match = SEVERITY_RE.search(text)
    if match:
        return f"SEV{match.group(1) or match.group(2)}"
    lowered = text.lower()
    for word, level in (("critical", 1), ("major", 2), ("high", 2), ("minor", 3), ("medium", 3), ("low", 4)):
        if word in lowered:
            return f"SEV{level}"
    return None


def severity_from_text(text: str, anywhere: bool = False) -> str | None:
    """From a 'Severity: X' line near the top; with ``anywhere``, the first 'SEV2'-like mention."""
    match = SEVERITY_LINE_RE.search(text[:4000])
    if match:
        return normalise_severity(match.group(1))
    if anywhere:
        mention = re.search(r"\bSEV[- ]?([1-5])\b", text, re.I)
        return f"SEV{mention.group(1)}" if mention else None
    return None


DATE_RE = re.compile(r"\b(20\d\d)-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])\b")
#: the value runs to the end of its line; trailing emphasis is stripped in code, not by a lazy group
#: followed by "[*_\s]*$" (cubic on a line of asterisks)
META_LINE_RE = re.compile(_LEAD + r"({key})[*_\s]*+[:=][*_\s]*+([^\n]+)", re.I | re.M)


def parse_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if value is None:
        return None
    return _matched_date(DATE_RE.search(str(value)), 1, 2, 3)


def _matched_date(match: re.Match[str] | None, year: int, month: int, day: int) -> date | None:
    """The date a match holds in these groups, or None when nothing matched or it is no calendar date."""
    if not match:
        return None
    try:
        return date(int(match.group(year)), int(match.group(month)), int(match.group(day)))
    except ValueError:
        return None


def meta_line(text: str, *keys: str) -> str | None:
    """The value of a 'Key: value' line near the top ('**Severity:** SEV2')."""
    pattern = re.compile(META_LINE_RE.pattern.format(key="|".join(re.escape(k) for k in keys)), re.I | re.M)
    match = pattern.search(text[:4000])
    return _strip_emphasis(match.group(2)) if match else None


def _strip_emphasis(value: str) -> str:
    """``value`` without trailing ``*``/``_`` and surrounding white space ('SEV2**' -> 'SEV2')."""
    end = len(value)
    while end and (value[end - 1] in "*_" or value[end - 1].isspace()):
        end -= 1
    return value[:end].strip()


def date_from_text(text: str) -> date | None:
    labelled = meta_line(text, "date", "incident date", "started", "last reviewed", "last_reviewed")
    return parse_date(labelled) or parse_date(text[:3000])


#: how tools write a day: "Mar 14, 2024", "March 14, 2024 10:00 AM", "14 Mar 2024", "2024-03-14", "2024/03/14"
_DAY_FORMATS = ("%b %d, %Y", "%B %d, %Y", "%d %b %Y", "%d %B %Y", "%Y-%m-%d", "%Y/%m/%d", "%m/%d/%Y")
_DAY_RE = re.compile(
    r"\b(?:[A-Z][a-z]{2,8}\.? \d{1,2}(?:st|nd|rd|th)?, \d{4}|\d{1,2}(?:st|nd|rd|th)? [A-Z][a-z]{2,8}\.? \d{4}"
    r"|\d{4}[-/]\d{2}[-/]\d{2}|\d{1,2}/\d{1,2}/\d{4})\b"
)


#: "26th" -> "26"
_ORDINAL = re.compile(r"(\d)(?:st|nd|rd|th)\b")


def written_days(value: object) -> list[tuple[str, date]]:
    """Every day written in ``value`` in one of the forms documentation tools use, as written and as a day,
    in order."""
    days: list[tuple[str, date]] = []
    if value is None:
        return days
    for match in _DAY_RE.finditer(str(value)[:500]):
        for form in _DAY_FORMATS:
            try:
                day = _ORDINAL.sub(r"\1", match.group(0).replace(".", ""))
                days.append((match.group(0), datetime.strptime(day, form).date()))
                break
            except ValueError:
                continue
    return days


def loose_date(value: object) -> date | None:
    """The first day written in ``value`` in one of the forms documentation tools use, or None."""
    days = written_days(value)
    return days[0][1] if days else None


def record_date(text: str, title: str, name: str) -> date | None:
    """A document's day when its front matter gives none: a labelled line ("Date: ..."), a day written in its
    title ("March 26th, 2019 Boskos Outage"), its file name's, else the first ISO day near its top (the least
    sure: a postmortem may name an earlier day for context, or mistype one)."""
    labelled = meta_line(text, "date", "incident date", "started", "last reviewed", "last_reviewed")
    return (parse_date(labelled) or loose_date(labelled) or parse_date(title) or loose_date(title)
            or date_from_name(name) or parse_date(text[:3000]))


#: a name after "alert:", "alertname=", "FIRING [": the words in any case, the name with its own capital first (so
#: "AlertmanagerFailedToSendAlerts" does not give "managerFailedToSendAlerts")
ALERT_CONTEXT_RE = re.compile(r"\b(?i:alert(?:name)?s?\s*+(?:[:=]\s*+)?[`\"']?|firing:?\s*+\[?)([A-Z][A-Za-z0-9]+)")
#: a whole word that starts with a capital and holds three or more: a candidate CamelCase name
#: (``is_camel_name`` decides; every CamelCase name has three capitals at least)
CAPITALISED_WORD_RE = re.compile(r"(?<![\w.-])([A-Z][a-z0-9]*[A-Z][a-z0-9]*[A-Z][A-Za-z0-9]*+)(?![\w-])")
_CASE_RUNS = re.compile(r"([A-Z]+)([a-z0-9]*)")
ALERT_WORDS = re.compile(
    r"(High|Low|Down|Error|Errors|Failing|Failed|Failure|Latency|Lag|Exhausted|Expir|NotReady|CrashLoop|Restart"
    r"|Full|Pressure|Saturat|Throttl|Missing|Unavailable|Backlog|Watermark|Failover|Degraded|Slow|Spike|Absent)"
)
ERROR_CLASS_RE = re.compile(r"\b([A-Z][A-Za-z0-9]*(?:Error|Exception|Timeout|Killed|BackOff|Refused))\b")
CODE_SPAN_RE = re.compile(r"`([^`\n]{6,200})`")
ERROR_WORDS_RE = re.compile(
    r"error|fail|refused|timeout|timed out|denied|exceeded|expired|too many|not allowed|unavailable|"
    r"no such host|reset|killed|panic|fatal",
    re.I,
)
HTTP_STATUS_RE = re.compile(
    r"\b(?:HTTP\s*)?([45]\d\d)s?\b(?=\s*(?:errors?|responses?|status|bad gateway|"
    r"service unavailable|gateway timeout|internal server error|s\b))",
    re.I,
)


def is_camel_name(word: str) -> bool:
    """A CamelCase name: three capitalised parts or more ('HighErrorRate'), or a capitalised part, an
    acronym and capitalised parts ('PgBouncerPoolExhausted' is the first kind, 'KafkaISRShrinking' the
    second). Decided on the word's runs of capitals and lowercase, in one pass: as one pattern, an
    acronym's letters could be split between repetitions in exponentially many ways."""
    if not word[:1].isupper() or not word.isascii() or not word.isalnum():
        return False
    runs = [(len(upper), len(lower)) for upper, lower in _CASE_RUNS.findall(word)]
    if runs[0] != (1, runs[0][1]) or runs[0][1] == 0:
        return False  # it must open with one capital and then lowercase ('Kafka')
    rest = runs[1:]
    tail = 0  # trailing capitalised parts: one capital, then lowercase or digits
    while tail < len(rest) and rest[-1 - tail][0] == 1 and rest[-1 - tail][1] > 0:
        tail += 1
    head = rest[: len(rest) - tail]
    if not head:
        return tail >= 2
    if any(upper < 2 for upper, _ in head):
        return False
    # an acronym's last capital may open a capitalised part ('ISRShrinking' = 'ISR' + 'Shrinking')
    return tail > 0 or (head[-1][0] >= 3 and head[-1][1] > 0)


_cached_camel_name = functools.lru_cache(maxsize=4096)(is_camel_name)


def alerts_from_text(text: str) -> list[str]:
    """Alert names: CamelCase names that read like alerts, or names after 'alert:'."""
    found: dict[str, None] = {}
    for match in ALERT_CONTEXT_RE.finditer(text):
        name = match.group(1)
        if is_camel_name(name) or ALERT_WORDS.search(name):
            found[name] = None
    for match in CAPITALISED_WORD_RE.finditer(text):
        name = match.group(1)
        camel = _cached_camel_name(name) if len(name) <= 64 else is_camel_name(name)
        if camel and ALERT_WORDS.search(name) and not ERROR_CLASS_RE.fullmatch(name):
            found[name] = None
    return list(found)[:30]


def errors_from_text(text: str) -> list[str]:
    """Error strings and classes: backticked error messages, exception names, HTTP 5xx codes."""
    found: dict[str, None] = {}
    for match in CODE_SPAN_RE.finditer(text):
        span = match.group(1).strip()
        if ERROR_WORDS_RE.search(span) and " " in span:
            found[span] = None
    for match in ERROR_CLASS_RE.finditer(text):
        found[match.group(1)] = None
    for match in HTTP_STATUS_RE.finditer(text):
        found[f"HTTP {match.group(1)}"] = None
    return list(found)[:40]


#: Words that appear in "services:" lists but name no one service; never matched in other documents' text.
GENERIC_SERVICE_WORDS = frozenset(
    "all any none n/a na various multiple everything several other others platform infra infrastructure core "
    "backend frontend internal external customers users production prod staging".split()
)


def matchable_services(known: set[str]) -> set[str]:
    """Known service names specific enough to recognise in free text."""
    return {s for s in known if len(s) > 2 and s.lower() not in GENERIC_SERVICE_WORDS}


SERVICE_LINE_KEYS = (
    "services", "service", "affected services", "affected service", "systems", "components", "component",
    "affected components", "affected component",
)


def _drop_notes(line: str) -> str:
    """``line`` without parenthesised notes and the spaces before them, as ``re.sub(r"\\s*\\([^)]*\\)", "")``
    would, in one pass (that pattern rescans the line from every unclosed "(")."""
    kept: list[str] = []
    pos = 0
    while (start := line.find("(", pos)) >= 0 and (end := line.find(")", start + 1)) >= 0:
        kept.append(line[pos:start].rstrip())
        pos = end + 1
    kept.append(line[pos:])
    return "".join(kept)


_CODE_SPAN = re.compile(r"`[^`\n]+`")


def split_code(text: str) -> tuple[str, str]:
    """(the text outside fenced code blocks, the text of code spans and fenced blocks), in one pass over the
    lines: a "service:" key in a manifest is not the document's declaration, and commands and host names
    are written in code."""
    prose: list[str] = []
    code: list[str] = []
    fences = Fences()
    for line in text.split("\n"):
        role = fences.role(line)
        if role is Role.CODE:
            code.append(line)
        elif role is Role.TEXT:
            prose.append(line)
            code.extend(_CODE_SPAN.findall(line))
    return "\n".join(prose), "\n".join(code)


#: a name mentioned this often in a document's own text is what it is about
REPEATED = 3


def _mentions(name: str, text: str) -> int:
    return len(re.findall(rf"(?<![\w-]){re.escape(name.lower())}(?![\w-])", text))


def _in_identifier(name: str, text: str, code: str) -> bool:
    """``name`` as a host or resource name ('orders-db.svc', 'checkout:8080', 'app=checkout', '/checkout/') or,
    in a command, as a flag's value ('-n checkout', '--service=checkout'); not a command's verb ('git checkout')."""
    word = re.escape(name.lower())
    end = r"(?=[\s/.:\"'`),]|$)"
    as_host = rf"[=/]{word}{end}|(?<![\w.-]){word}(?:\.[a-z]|:\d|/)"
    if re.search(as_host, text, re.M) is not None:
        return True
    return re.search(rf"(?<!\S)--?[a-z][\w-]*[ =]{word}{end}", code, re.M) is not None


def declared_services(text: str) -> list[str]:
    """Services the document declares on a 'Services:' / 'Component:' line of its own (not in a code block)."""
    line = meta_line(split_code(text[:8000])[0], *SERVICE_LINE_KEYS)
    if not line:
        return []
    line = _drop_notes(line)  # "inventory (all services in prod-eu-1)": a note, not a name
    return [s.strip(" `*") for s in re.split(r"[,;/]| and ", line) if s.strip(" `*")][:12]


def services_from_text(text: str, known: set[str], title: str = "") -> list[str]:
    """Services from a 'Services:' line, else known service names the document gives strong evidence of:
    named in its title, as a host or resource name or a command's argument, or at least REPEATED times. A
    name is never taken only because another document declared it and this one uses the word once. Most
    mentions first, ties by name."""
    declared = declared_services(text)
    if declared or not known:
        return declared
    lowered = text.lower()
    code = split_code(lowered)[1]
    heading = re.sub(r"[-_]+", " ", title.lower())  # 'session cache' in a title made from a file name
    repeated = max(REPEATED, len(lowered) // 3000)  # about one in 500 words of a long document
    counts: dict[str, int] = {}
    for name in matchable_services(known):
        hits = _mentions(name, lowered)
        if not hits:
            continue
        named = _mentions(re.sub(r"[-_]+", " ", name.lower()), heading) > 0
        if named or hits >= repeated or _in_identifier(name, lowered, code):
            counts[name] = hits
    return [n for n, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:6]]


_NAME_DATE = re.compile(r"(?<!\d)(20\d\d)([-_.]?)(0[1-9]|1[0-2])\2(0[1-9]|[12]\d|3[01])(?!\d)")


def date_from_name(name: str) -> date | None:
    """The date a file name holds: '2024-03-05-foo.md', 'incident_20240305.txt', 'prow-2019-05-30.md'."""
    return _matched_date(_NAME_DATE.search(name), 1, 3, 4)


def title_from_name(name: str) -> str:
    """A file name made readable: '2024-03-05_db-failover.txt' -> 'Db failover (2024-03-05)'."""
    stem = name.rsplit(".", 1)[0] if "." in name.strip(".") else name
    when = date_from_name(stem)
    words = " ".join(_NAME_DATE.sub(" ", stem).replace("_", " ").replace("-", " ").split())
    if not words:
        return stem
    words = words[0].upper() + words[1:]
    return f"{words} ({when.isoformat()})" if when else words


#: a document is split at its first this many headings; the text after the last stays in its section (a file
#: of 166,000 one-line sections took 1.7 s to chunk, and no runbook or postmortem has a thousand headings)
MAX_SECTIONS = 1000
_PLAIN_HEADING = re.compile(r"(?m)^[ \t]*(#{1,6}[ \t]+)?([^\n]{2,60})[ \t]*$")


def plain_sections(text: str, start: int = 0) -> list[tuple[str, str, int, int]]:
    """Sections of plain text (PDF, .txt): a short line that is a known heading (or a Markdown heading) starts
    a section, named by what it and its opening say (``kb.retrieval.sectioning``, one batch).

    Returns (section name, heading, start, end) with offsets into ``text``.
    """
    known = exact_names()
    marks: list[tuple[str, int, int]] = []  # (heading, start, end of its line)
    for match in _PLAIN_HEADING.finditer(text, start):
        if len(marks) == MAX_SECTIONS:
            break
        line = match.group(2).strip()
        if len(line.split()) > 7 or line.endswith((".", ",")):
            continue
        stripped = line.rstrip(":").strip()
        # 'Key: value' lines are metadata, not headings
        if ":" in stripped:
            continue
        if match.group(1) or clean_heading(stripped).casefold() in known:
            marks.append((stripped, match.start(), match.end()))
    ends = [marks[i + 1][1] if i + 1 < len(marks) else len(text) for i in range(len(marks))]
    names = name_sections([(h, text[line_end:end]) for (h, _s, line_end), end in zip(marks, ends, strict=True)])
    sections: list[tuple[str, str, int, int]] = []
    if not marks or marks[0][1] > start:
        first = marks[0][1] if marks else len(text)
        if text[start:first].strip():
            sections.append((SectionName.body, "", start, first))
    for name, (heading, pos, _line_end), end in zip(names, marks, ends, strict=True):
        sections.append((name, heading, pos, end))
    return sections
