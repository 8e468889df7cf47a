"""An incident postmortem read as a game day needs it: its sections as spans, its timeline entries with their
times, and where the incident was first reported, where the fix began and where it recovered. What an entry
does (a report, an action, the recovery) is judged by meaning (``kb.gameday.cues``); a regular expression
reads only the time an entry starts with.
"""

from __future__ import annotations

import datetime as dt
import re

from kb.core.enums import MessageKind, SectionName
from kb.core.models import Citation, Record
from kb.text.steps import Span, clean_step, opens_list_item, split_steps

#: a timeline entry's leading time: "- 09:08 -", "* [08:47]", "- [03-26 02:50]", "- 4:49 AM PST:", "**16:30**"
TIME = re.compile(
    r"^\s*(?:[-*]\s*)?(?:\*\*)?\[?(?:(\d{4}-\d{2}-\d{2})[ T]+|\d{1,2}[-/]\d{1,2}\s+)?(\d{1,2}):(\d{2})(?::\d{2})?"
    r"\s*([AaPp]\.?[Mm]\.?)?\]?(?:\*\*)?\s*(?:UTC|[A-Z]{1,2}[SD]?T|Z)?\]?(?:\s*[-–—:]\s*|\s+)"
)


def _when(text: str) -> str | None:
    """The entry's time as "HH:MM" (24-hour), with its ISO date in front when the entry gives one."""
    match = TIME.match(text)
    if not match:
        return None
    date, hour, minute, half = match.group(1), int(match.group(2)), match.group(3), match.group(4)
    if half and half[0].lower() == "p" and hour < 12:
        hour += 12
    elif half and half[0].lower() == "a" and hour == 12:
        hour = 0
    if hour > 23:
        return None
    clock = f"{hour:02d}:{minute}"
    return f"{date} {clock}" if date else clock


def cite(record: Record, span: Span, section: str) -> Citation:
    return Citation(doc_id=record.id, section=section, start=span.start, end=span.end, quote=span.text[:240])


def section_text(record: Record, *names: str) -> str:
    return "\n".join(record.text[s.start : s.end] for s in record.sections if s.name in names)


def section_spans(record: Record, name: str) -> list[tuple[Span, str]]:
    out = []
    for section in record.sections:
        if section.name == name:
            out += [(s, section.name) for s in split_steps(record.text[section.start : section.end], section.start)]
    return out


#: a line that starts a dated entry without a time ("2024-07-25  The setting is changed")
DATED = re.compile(r"^\s*(?:[-*]\s*)?\[?\d{4}-\d{2}-\d{2}\b")


def entries(span: Span) -> list[Span]:
    """A timeline paragraph as its entries: a plain-text timeline has no list markers, so each line that starts
    with a time (or a date) starts an entry, and the lines after it continue it. In a list item, only a nested
    item does: a wrapped line of the item that happens to start with a date ("raised to 100% on" /
    "2026-01-20 09:00 after a clean canary.") continues it."""
    listed = opens_list_item(span.text)
    starts = [0]
    offset = 0
    for line in span.text.splitlines(keepends=True):
        if offset and (TIME.match(line) or DATED.match(line)) and (not listed or opens_list_item(line)):
            starts.append(offset)
        offset += len(line)
    out = []
    for a, b in zip(starts, [*starts[1:], len(span.text)], strict=True):
        piece = span.text[a:b].rstrip()
        if piece.strip():
            out.append(Span(span.start + a, span.start + a + len(piece), piece))
    return out


#: a section of another name is a timeline when it lists at least this many entries that start with a time...
TIMED_ENTRIES = 3
#: ...and they are at least this share of its entries
TIMED_SHARE = 0.6


def timeline_of(record: Record) -> list[tuple[Span, str | None]]:
    """The timeline's entries and their times; lines without a time that only head a day or a note are kept.
    The timeline is the sections named so, and any other section that is a list of timed entries (a "Context"
    field whose bullets start "2023-01-11 14:34:"); when some of these have timed entries, a part with none
    ("Key events" whose times follow their labels) is left out."""
    parts = []
    for section in record.sections:
        listed = [(entry, _when(entry.text)) for span in split_steps(record.text[section.start : section.end],
                                                                     section.start) for entry in entries(span)]
        timed = sum(1 for _entry, when in listed if when)
        if section.name == SectionName.timeline or (timed >= TIMED_ENTRIES and timed >= TIMED_SHARE * len(listed)):
            parts.append((timed, listed))
    if any(timed for timed, _listed in parts):
        parts = [(timed, listed) for timed, listed in parts if timed]
    return [item for _timed, listed in parts for item in listed]


def first_page_index(timeline: list[tuple[Span, str | None]], kinds: list[MessageKind | None],
                     evidence: list[str], day: dt.date | None = None, hindsight: list[bool] | None = None,
                     reads_as_report: list[bool] | None = None) -> int:
    """The entry where responders learned of the incident: the first timed entry that is a report (an alert
    firing, a page, a user's report) and not a change shipped (a deploy is what came before), else the first
    timed observation, else the first timed entry. An entry told with hindsight (``hindsight``: it states the
    cause, "07:53 autovacuum removes tuples the query still needs; WAL replay stops") is what happened, not
    what anyone saw then. An alert or a customer's word that reads whole as a report (``reads_as_report``) is
    one, though a sentence of it says what a responder did ("X pages Aisha. Acked 02:44.")."""
    dated = [n for n, (_span, when) in enumerate(timeline) if when and not _before(when, day)]
    timed = [n for n in dated if not (hindsight and hindsight[n])] or dated
    reported = (MessageKind.report, None, MessageKind.observation, MessageKind.made_worse)
    for n in timed:
        if evidence[n] == "deploy":
            continue  # a change shipped is what came before the trouble, not its report
        told = evidence[n] in ("alert", "customer")
        if kinds[n] == MessageKind.report or (told and (kinds[n] in reported
                                                        or (reads_as_report and reads_as_report[n]))):
            return n
    found = next((n for n in timed if kinds[n] == MessageKind.observation), None)
    if found is not None:
        return found
    return timed[0] if timed else 0


def _before(when: str | None, day: dt.date | None) -> bool:
    """Whether a timeline time ("2023-12-18 16:30" or "16:30") is dated before the incident's day."""
    if not when or day is None or " " not in when:
        return False
    try:
        return dt.date.fromisoformat(when.split()[0]) < day
    except ValueError:
        return False


def recovery_index(kinds: list[MessageKind | None], start: int) -> int:
    """The first entry from ``start`` that says things are back (the length of the timeline when none does)."""
    return next((n for n in range(start, len(kinds)) if kinds[n] == MessageKind.recovery), len(kinds))


def time_to_mitigate(timeline: list[tuple[Span, str | None]], first: int, recovery: int) -> str | None:
    start = timeline[first][1] if timeline else None
    end = timeline[recovery][1] if recovery < len(timeline) else None
    if not start or not end:
        return None
    t0, t1 = start.split()[-1], end.split()[-1]
    minutes = (int(t1[:-3]) * 60 + int(t1[-2:])) - (int(t0[:-3]) * 60 + int(t0[-2:]))
    days = _days_between(start, end)
    if days is not None:
        minutes += days * 24 * 60  # "2023-08-04 09:14" to "2023-08-05 18:28" is 33h 14m, not 9h 14m
    elif minutes < 0:
        minutes += 24 * 60  # times without dates: past midnight
    if minutes < 0:
        return None  # the recovery is dated before the report: a typo in a date, no figure to give
    return f"{minutes // 60}h {minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


def _days_between(start: str, end: str) -> int | None:
    """Days from one dated timeline time ("2023-08-04 09:14") to another; None unless both carry a date."""
    if " " not in start or " " not in end:
        return None
    try:
        return (dt.date.fromisoformat(end.split()[0]) - dt.date.fromisoformat(start.split()[0])).days
    except ValueError:
        return None


_LINK = re.compile(r"\[([^\]\n]*)\](?:\[[^\]\n]*\]|\([^)\n]*\))?")


def plain(text: str) -> str:
    """An entry's words as read for meaning: without its leading time, link targets or emphasis marks."""
    text = TIME.sub("", clean_step(text), count=1)
    return " ".join(_LINK.sub(r"\1", text).replace("**", "").split())
