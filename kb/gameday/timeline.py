"""An incident postmortem read as a game day needs it: its sections as spans, its timeline entries with their
times, where responders learned of the incident and where it recovered, and citations of those spans.
"""

from __future__ import annotations

import datetime as dt
import re

from kb.core.enums import SectionName
from kb.core.models import Citation, Record
from kb.gameday.cues import RECOVERY
from kb.text.steps import Span, split_steps

TIME = re.compile(
    r"^\s*(?:[-*]\s*)?(?:\*\*)?(?:(\d{4}-\d{2}-\d{2})\s+)?(\d{1,2}:\d{2})(?::\d{2})?(?:\*\*)?\s*(?:UTC)?(?:\s*[-–—:]\s*|\s+)"
)


def _when(text: str) -> str | None:
    match = TIME.match(text)
    return (f"{match.group(1)} {match.group(2)}" if match.group(1) else match.group(2)) if match else None


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


def timeline_of(record: Record) -> list[tuple[Span, str | None]]:
    return [(span, _when(span.text)) for span, _ in section_spans(record, SectionName.timeline)]


NOTICED = re.compile(r"\b(notice[sd]?|sees?|saw|spots?|spotted|reports?|reported|detect(?:s|ed)?|"
                     r"complain\w*|opens? #inc|posts? in)\b", re.I)


def first_page_index(timeline: list[tuple[Span, str | None]], day: dt.date | None = None) -> int:
    """The timeline entry where responders learned of the incident: the first alert or page, else the first
    time someone noticed or reported it, else the first entry of the incident's own day."""
    for pattern in (re.compile(r"\b(fires?|fired|pages?|paged|alert)\b", re.I), NOTICED):
        for n, (span, _time) in enumerate(timeline):
            if pattern.search(span.text) and not _before(_time, day):
                return n
    return next((n for n, (_span, when) in enumerate(timeline) if not _before(when, day)), 0)


def _before(when: str | None, day: dt.date | None) -> bool:
    """Whether a timeline time ("2023-12-18 16:30" or "16:30") is dated before the incident's day."""
    if not when or day is None or " " not in when:
        return False
    try:
        return dt.date.fromisoformat(when.split()[0]) < day
    except ValueError:
        return False


def recovery_index(timeline: list[tuple[Span, str | None]], start: int) -> int:
    for n in range(start, len(timeline)):
        if RECOVERY.search(timeline[n][0].text) and not re.search(r"\bunchanged\b|\bnot\b", timeline[n][0].text):
            return n
    return len(timeline)


def time_to_mitigate(timeline: list[tuple[Span, str | None]], first: int, recovery: int) -> str | None:
    start = timeline[first][1] if timeline else None
    end = timeline[recovery][1] if recovery < len(timeline) else None
    if not start or not end:
        return None
    t0, t1 = start.split()[-1], end.split()[-1]
    minutes = (int(t1[:-3]) * 60 + int(t1[-2:])) - (int(t0[:-3]) * 60 + int(t0[-2:]))
    if minutes < 0:
        minutes += 24 * 60
    return f"{minutes // 60}h {minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"
