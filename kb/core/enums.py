"""The product's vocabularies, one enum each. Every one is a ``StrEnum``: a member is the string it
stands for (``SectionName.mitigation == "mitigation"``), so stored records, JSON output and printed text
read exactly as the bare strings did.

- ``SectionName``: the canonical section names of a document (their heading patterns: ``kb.text.sections``)
- ``ActionKind``: the kinds of action a game-day trainee or a responder takes (``kb.gameday.cues.ACTIONS``)
- ``RubricKind``: what a game-day rubric item rewards or punishes
- ``Outcome``: how a game-day session ended
- ``MessageKind``: what a chat message or timeline line does in an incident (``kb.retrieval.cues``)
- ``Generator``: what wrote a generated answer, draft or proposal
"""

from __future__ import annotations

from enum import StrEnum


class SectionName(StrEnum):
    """The canonical name of a section, whatever its heading says ('Root Cause Analysis' -> root_cause)."""

    # postmortems
    summary = "summary"
    impact = "impact"
    detection = "detection"
    timeline = "timeline"
    root_cause = "root_cause"
    contributing_factors = "contributing_factors"
    resolution = "resolution"
    mitigation = "mitigation"
    action_items = "action_items"
    lessons = "lessons"
    # runbooks
    overview = "overview"
    symptoms = "symptoms"
    triage = "triage"
    diagnosis = "diagnosis"
    verification = "verification"
    escalation = "escalation"
    references = "references"
    # not a known heading
    other = "other"
    body = "body"  # text before any heading, or a document without headings
    chat = "chat"  # the whole of a chat log


class ActionKind(StrEnum):
    """A kind of action taken during an incident, most specific first (``kb.gameday.cues.ACTIONS``)."""

    rollback = "rollback"
    terminate = "terminate"
    raise_limit = "raise_limit"
    reconfigure = "reconfigure"
    restart = "restart"
    scale = "scale"
    failover = "failover"
    disable = "disable"
    pause = "pause"
    flush = "flush"
    delete = "delete"
    page = "page"
    declare = "declare"
    communicate = "communicate"


class RubricKind(StrEnum):
    """What a game-day rubric item rewards (or, for harmful, punishes)."""

    mitigation = "mitigation"
    diagnosis = "diagnosis"
    communication = "communication"
    harmful = "harmful"


class Outcome(StrEnum):
    """How a game-day session ended."""

    mitigated = "mitigated"
    gave_up = "gave up"
    turn_limit = "turn limit"


class Generator(StrEnum):
    """What wrote a generated answer, draft or proposal."""

    extractive = "extractive"  # no LLM: lines taken from the sources themselves
    llm = "llm"
    none = "none"  # nothing relevant was found, nothing was generated


class MessageKind(StrEnum):
    """What a chat message, timeline entry or step does in an incident, judged by meaning (kb.retrieval.cues)."""

    report = "report"  #: the first sign: an alert fires, a user or customer reports a problem
    observation = "observation"  #: what someone sees: a graph, a log line, an error count
    hypothesis = "hypothesis"  #: a guess at the cause, not yet confirmed
    cause = "cause"  #: the explanation of what went wrong, stated as found (a root cause, not a guess)
    decision = "decision"  #: a choice of what to do next ("let's roll back", "we will fail over")
    action = "action"  #: a change made to a system (restart, roll back, scale, edit a setting)
    made_worse = "made_worse"  #: an action that did not help or made things worse
    recovery = "recovery"  #: the statement that things are back to normal
    action_item = "action_item"  #: follow-up work for after the incident
