"""What passes between the alerting parts: an alert group as a sender reported it, and its enrichment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Source = Literal["alertmanager", "pagerduty", "api"]
Status = Literal["firing", "resolved"]


@dataclass(frozen=True)
class AlertGroup:
    """One alert group as its sender reported it: the unit that is enriched once (deduplicated by ``key``)."""

    source: Source
    key: str  #: one per alert group: Alertmanager's groupKey, PagerDuty's incident id
    status: Status
    title: str  #: one line naming the group, as a person would read it
    text: str  #: what the knowledge base is searched with (summaries, descriptions, names, useful labels)
    alertnames: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)  #: labels common to the group
    link: str | None = None  #: the sender's own page for the group (Alertmanager, PagerDuty incident)


@dataclass(frozen=True)
class Citation:
    """A source one ``[n]`` marker points at: a passage of a stored document."""

    n: int
    doc_id: str
    title: str
    start: int | None  #: character offset of the cited passage in the document (None: its top)
    quote: str  #: the cited words, short


@dataclass(frozen=True)
class PastIncident:
    """A past incident like the alert group, and why it was found."""

    doc_id: str
    title: str
    date: str | None  #: ISO date of the incident
    severity: str | None
    services: tuple[str, ...]
    relevance: str  #: strong / partial / weak (kb.retrieval.relevance)
    why: str  #: the passage that matched, short
    start: int | None = None  #: offset of that passage
    others: tuple[str, ...] = ()  #: the other documents of the same incident (its chat log, a copy)


@dataclass(frozen=True)
class RunbookMatch:
    """The runbook for the alert, opened at the section that matched."""

    doc_id: str
    title: str
    relevance: str
    why: str
    start: int | None = None


@dataclass(frozen=True)
class Enrichment:
    """What the knowledge base says about one alert group."""

    group: AlertGroup
    incidents: tuple[PastIncident, ...]
    runbook: RunbookMatch | None
    helped: str  #: one paragraph, "what helped last time", each claim carrying [n] markers ("" when nothing)
    citations: tuple[Citation, ...]
    written_by: str  #: "the documents (no LLM)" or the LLM's label, said in the message
