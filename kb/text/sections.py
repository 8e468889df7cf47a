"""Which sections make a document a postmortem or a runbook. Sections are named by what their heading and
opening say, in ``kb.retrieval.sectioning``."""

from __future__ import annotations

from kb.core.enums import SectionName

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

