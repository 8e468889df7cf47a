"""One incident as any incident tool's export is read into it, and the Markdown postmortem it becomes.

Each tool's reader fills an ``Incident``; ``render`` writes it as a postmortem whose metadata the record
takes from front-matter fields (kind, title, date, services, severity, duration, tags, owner) and whose
text has a ``## Timeline (UTC)`` section with one timestamped line per log entry or comment.

Severity: each reader maps its tool's own field by a table of the level names that tool documents
(``level``: PagerDuty's priorities P1-P5 and urgency high/low, Opsgenie's P1-P5, Jira's priorities,
incident.io's default severities); a value a team names itself (a Jira severity field, a GitHub label, a
renamed incident.io severity) counts when it is written as a level (``SEV1``, ``Sev 2``, ``P1``). The
first level that maps wins.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ingest.extract import SEVERITY_RE
from ingest.sources.incidents.read import name_of, text_of

#: more log entries or comments than this on one incident are not imported (the text says how many)
MAX_ENTRIES = 2000

#: time formats besides ISO 8601: Jira's CSV ("14/May/24 1:07 PM") and common spreadsheet forms
_FORMATS = (
    "%d/%b/%y %I:%M %p", "%d/%b/%Y %I:%M %p", "%d/%b/%y %H:%M", "%d/%b/%Y %H:%M",
    "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M:%S %Z", "%Y-%m-%d %H:%M %Z",
)  # fmt: skip


@dataclass
class Entry:
    """One timeline entry: a log entry, a note, a comment or a status change."""

    at: datetime | None  # naive UTC
    what: str  # what happened: "Triggered", "Acknowledged", "Note", "Comment", "Resolved"
    who: str = ""
    text: str = ""


@dataclass(frozen=True)
class Level:
    """One level an incident tool gives an incident (a priority, an urgency, a severity, a label)."""

    written: str  # as the tool wrote it: "P1", "Highest", "Critical", "sev2"
    sev: int | None  # the SEVn it means, None when it is no level the tool documents


def level(written: object, names: Mapping[str, int] | None = None) -> Level:
    """``written`` as a level: by ``names`` (a tool's documented level names, lower-cased, to SEVn) or,
    without a match, when it is written as a level (``SEV1``, ``Sev 2``, ``SEV-0``, ``P1``)."""
    text = str(written or "").strip()
    if names is not None and text.lower() in names:
        return Level(text, names[text.lower()])
    form = SEVERITY_RE.fullmatch(text)
    return Level(text, int(form.group(1) or form.group(2)) if form else None)


@dataclass
class Incident:
    """What an incident tool knows of one incident, whatever the tool."""

    tool: str  # "PagerDuty", "Opsgenie", "Jira", "incident.io", "GitHub"
    key: str  # the tool's own id of it, stable across exports: part of the record's source key
    ref: str  # the reference people use: "#4812", "OPS-231", "INC-57"
    title: str
    status: str = ""
    levels: list[Level] = field(default_factory=list)  # severity, priority, urgency, labels, best first
    services: list[str] = field(default_factory=list)
    started: datetime | None = None  # naive UTC
    resolved: datetime | None = None
    url: str = ""
    summary: str = ""  # description or body, Markdown
    owner: str = ""
    tags: list[str] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)


def moment(value: object) -> datetime | None:
    """A time as tools write it (ISO 8601, Jira's CSV form, seconds or milliseconds since 1970) as naive
    UTC; None when it is none of these. A time without a zone is taken as UTC."""
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    if not text:
        return None
    when: datetime | None = None
    if re.fullmatch(r"\d{9,13}(?:\.\d+)?", text):
        number = float(text)
        try:
            when = datetime.fromtimestamp(number / 1000 if number > 1e11 else number, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    else:
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            for form in _FORMATS:
                try:
                    when = datetime.strptime(text, form)
                    break
                except ValueError:
                    continue
    if when is None:
        return None
    return when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when


def severity(levels: list[Level]) -> tuple[str | None, str]:
    """(SEVn, the level as the tool wrote it) from the first level that maps."""
    for found in levels:
        if found.sev is not None:
            return f"SEV{found.sev}", found.written
    return None, ""


def comments(
    items: list[dict[str, Any]], what: str, at: str, who: str, text: str, body: Callable[[object], str] = text_of
) -> list[Entry]:
    """Timeline entries from a tool's comment or note objects, given the fields holding each one's time, author and
    text (``body`` reads the text: Jira's may be Atlassian Document Format)."""
    return [Entry(moment(item.get(at)), what, name_of(item.get(who)), body(item.get(text))) for item in items]


def duration(started: datetime | None, resolved: datetime | None) -> str:
    """'1h 12m' / '47m' from start to resolve; '' when either is unknown or they are out of order."""
    if started is None or resolved is None or resolved < started:
        return ""
    minutes = int((resolved - started).total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m"


def one_line(text: object, limit: int = 20_000) -> str:
    """Text on one line (a timeline entry is one line of the postmortem: a comment's headings or lists must
    not become the document's sections)."""
    return " ".join(str(text or "").split())[:limit]


def _clock(when: datetime | None) -> str:
    return f"{when:%Y-%m-%d %H:%M:%S} UTC" if when else ""


def _entry_line(entry: Entry) -> str:
    head = _clock(entry.at) or "(no time)"
    what = one_line(entry.what, 200) or "Event"
    who = one_line(entry.who, 200)
    text = one_line(entry.text)
    line = f"- {head} — {what}" + (f" by {who}" if who and who not in text else "")
    return line + (f": {text}" if text and text != what else "")


def joined(parts: list[str]) -> str:
    """Pieces of text as one, each said once ('Note added', 'Rolled back ...' -> 'Note added. Rolled back ...')."""
    out = ""
    for part in dict.fromkeys(p.strip() for p in parts if p and p.strip()):
        out += ("" if not out else " " if out[-1] in ".!?:;" else ". ") + part
    return out


def timeline(incident: Incident) -> list[Entry]:
    """Its entries by time (entries without one keep their place at the end), at most ``MAX_ENTRIES``."""
    timed = sorted((e for e in incident.entries if e.at), key=lambda e: e.at or datetime.min)
    return [*timed, *(e for e in incident.entries if not e.at)]


def render(incident: Incident) -> tuple[str, dict[str, object]]:
    """(the postmortem's Markdown text, its front matter) for one incident."""
    incident.services = list(dict.fromkeys(one_line(s, 200) for s in incident.services if one_line(s)))
    level, written = severity(incident.levels)
    repair = duration(incident.started, incident.resolved)
    title = one_line(incident.title, 300) or f"{incident.tool} incident {incident.ref}"
    source = f"{incident.tool} {incident.ref}".strip() + (f" ({one_line(incident.url, 500)})" if incident.url else "")
    facts = [
        ("Source", source),
        ("Status", one_line(incident.status, 100)),
        ("Severity", (level or "") + (f" ({written})" if written and written != level else "")),
        ("Services", ", ".join(incident.services)),
        ("Owner", one_line(incident.owner, 200)),
        ("Started", _clock(incident.started)),
        ("Resolved", _clock(incident.resolved)),
        ("Time to repair", repair),
    ]
    lines = [f"# {title}", ""] + [f"{name}: {value}" for name, value in facts if value]
    summary = incident.summary.strip()
    if summary:  # a body with headings of its own (a review written in the issue) keeps them
        lines += [""] + ([] if summary.startswith("#") else ["## Summary", ""]) + [summary]
    entries = timeline(incident)
    if entries:
        lines += ["", "## Timeline (UTC)", ""] + [_entry_line(e) for e in entries[:MAX_ENTRIES]]
        if len(entries) > MAX_ENTRIES:
            lines.append(f"- ({len(entries) - MAX_ENTRIES} more entries not imported: over {MAX_ENTRIES})")
    front: dict[str, object] = {
        "kind": "postmortem",
        "title": title,
        "date": incident.started.date().isoformat() if incident.started else None,
        "services": incident.services,
        "severity": level,
        "duration": repair,
        "tags": incident.tags,
        "owner": one_line(incident.owner, 200),
        "source": incident.tool,
        "incident": incident.ref,
        "incident_id": incident.key,
        "status": incident.status,
        "started": incident.started.isoformat() if incident.started else None,
        "resolved": incident.resolved.isoformat() if incident.resolved else None,
        "url": incident.url,
    }
    return "\n".join(lines) + "\n", {k: v for k, v in front.items() if v}
