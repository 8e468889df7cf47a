"""Section names from headings: the heading patterns of each canonical section (``SectionName``), and which
sections make a document a postmortem or a runbook."""

from __future__ import annotations

import functools
import re

from kb.core.enums import SectionName

#: Heading words -> canonical section name. The first matching entry wins.
SECTION_PATTERNS: tuple[tuple[SectionName, str], ...] = (
    (SectionName.summary, r"summary|overview of the incident|tl;?dr|executive summary|what happened"),
    (SectionName.impact, r"impact|customer impact|user impact"),
    (SectionName.detection, r"detection|how (it was|we) detected|discovery"),
    (SectionName.timeline, r"timeline|chronology|sequence of events"),
    (SectionName.root_cause, r"root ?causes?|cause|why it happened|technical analysis|analysis"),
    (SectionName.contributing_factors, r"contributing factors?|what went wrong|trigger"),
    (SectionName.resolution, r"resolution|remediation|recovery|fix|how (it was|we) fixed"),
    (SectionName.mitigation,
     r"mitigation|mitigations?|immediate actions?|workaround|roll ?back|rollback|steps|procedure"),
    (SectionName.action_items, r"action items?|follow[- ]?ups?|next steps|corrective actions?|todo"),
    (SectionName.lessons, r"lessons?( learned)?|what went well|learnings|takeaways|retrospective"),
    (SectionName.overview, r"overview|about|purpose|description|context|background"),
    (SectionName.symptoms, r"symptoms?|alerts?|symptoms? ?/ ?alerts?|signals|when to use"),
    (SectionName.triage, r"triage|first steps|initial response|quick checks|checks"),
    (SectionName.diagnosis, r"diagnos[ie]s|investigation|troubleshooting|debugging|identify"),
    (SectionName.verification, r"verification|verify|validation|how to verify|confirm"),
    (SectionName.escalation,
     r"escalation|escalate|who to (call|page)|who owns|whom to page|contacts?|ownership|paging"),
    (SectionName.references, r"references?|related|links|see also|related incidents"),
)
#: one pattern, each section name a group, tried in the order above: one scan per heading, not one per name
_SECTION_RE = re.compile(
    r"(?:\d+[.)]\s*+)?(?:" + "|".join(rf"(?P<{name}>(?:{pat})\b)" for name, pat in SECTION_PATTERNS) + ")",
    re.I,
)
_HEADING_MARKUP = re.compile(r"[*_`#:]+")

POSTMORTEM_SECTIONS = {
    SectionName.impact,
    SectionName.timeline,
    SectionName.root_cause,
    SectionName.contributing_factors,
    SectionName.action_items,
    SectionName.lessons,
    SectionName.detection,
}
RUNBOOK_SECTIONS = {
    SectionName.symptoms, SectionName.triage, SectionName.diagnosis, SectionName.verification, SectionName.escalation
}


_TIME_ZONE_SUFFIX = re.compile(r"\((?:utc|[A-Z]{2,4})\)$", re.I)


def canonical_section(heading: str) -> SectionName:
    """The canonical name of a heading ('Root Cause Analysis' -> root_cause), or other."""
    # documents repeat their headings (a chat log's lines are all candidates): each is judged once
    return _cached_section(heading) if len(heading) <= 200 else _section_of(heading)


def _section_of(heading: str) -> SectionName:
    text = _HEADING_MARKUP.sub(" ", heading).strip()
    text = _TIME_ZONE_SUFFIX.sub("", text).strip()  # "Timeline (UTC)": anchored at "(", so linear
    match = _SECTION_RE.match(text)
    return SectionName(match.lastgroup) if match and match.lastgroup else SectionName.other


_cached_section = functools.lru_cache(maxsize=4096)(_section_of)
