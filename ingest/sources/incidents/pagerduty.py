"""PagerDuty incidents and their log entries, as its REST API returns them.

Accepted shapes (incident objects are recognised by their ``incident_number``):

- ``{"incidents": [...], "log_entries": [...]}``: ``GET /incidents`` and ``GET /incidents/{id}/log_entries``
  merged into one object; each log entry goes to the incident its ``incident.id`` names (to the only
  incident when there is one and the entry names none);
- ``[{"incidents": [...]}, {"log_entries": [...]}, ...]``: the responses one after another in a list;
- ``{"incident": {...}, "log_entries": [...]}``: ``GET /incidents/{id}`` with its log entries;
- an incident object, or a list of them, each optionally carrying its ``log_entries``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ingest.sources.incidents.model import Entry, Incident, joined, level, moment
from ingest.sources.incidents.read import bounded, dicts, name_of, obj, text_of

#: what a log entry's type says happened (``<type>_log_entry``); other types read as their words
#: PagerDuty's priorities as an account gets them (P1 the highest); an account may rename or add some
PRIORITIES = {"p1": 1, "p2": 2, "p3": 3, "p4": 4, "p5": 5}
#: an incident's urgency, PagerDuty's two values: read after the priority
URGENCIES = {"high": 2, "low": 4}
_EVENTS = {
    "trigger": "Triggered", "acknowledge": "Acknowledged", "unacknowledge": "Unacknowledged",
    "annotate": "Note", "resolve": "Resolved", "escalate": "Escalated", "assign": "Assigned",
    "notify": "Notified", "snooze": "Snoozed", "reach_trigger_limit": "Trigger limit reached",
    "status_update": "Status update", "priority_change": "Priority changed", "urgency_change": "Urgency changed",
    "responder_request": "Responders requested", "responder_accept": "Responder accepted",
}  # fmt: skip


def _is_incident(item: object) -> bool:
    return isinstance(item, dict) and "incident_number" in item


def _gather(data: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(incident objects, log entries not inside an incident) from any accepted shape."""
    parts = data if isinstance(data, list) else [data]
    incidents: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []
    for part in dicts(parts):
        if _is_incident(part):
            incidents.append(part)
            continue
        incidents += [i for i in dicts(part.get("incidents")) if _is_incident(i)]
        if _is_incident(part.get("incident")):
            incidents.append(part["incident"])
        entries += [e for e in dicts(part.get("log_entries")) if str(e.get("type", "")).endswith("log_entry")]
    return incidents, entries


def _entry(item: dict[str, Any]) -> Entry:
    kind = str(item.get("type", "")).removesuffix("_log_entry").removesuffix("_reference")
    what = _EVENTS.get(kind, kind.replace("_", " ").capitalize())
    summary = text_of(item.get("summary"))
    channel = obj(item.get("channel"))
    said = [summary] + [text_of(channel.get(k)) for k in ("summary", "subject", "details", "content")]
    text = joined(said)  # a note's text is in its channel
    return Entry(at=moment(item.get("created_at")), what=what, who=name_of(item.get("agent")), text=text)


def _incident(item: dict[str, Any], entries: list[dict[str, Any]]) -> Incident:
    status = text_of(item.get("status"))
    timeline = [_entry(e) for e in entries]
    resolved = moment(item.get("resolved_at"))
    if resolved is None and status == "resolved":
        resolves = [e.at for e in timeline if e.what == "Resolved" and e.at]
        resolved = max(resolves) if resolves else moment(item.get("last_status_change_at"))
    assignees = [name_of(a.get("assignee")) for a in dicts(item.get("assignments"))]
    teams = [name_of(t) for t in dicts(item.get("teams"))]
    description = text_of(item.get("description"))
    description = "" if description == text_of(item.get("title")) else description
    body = obj(item.get("body"))
    details = text_of(body.get("details"))
    return Incident(
        tool="PagerDuty",
        key=text_of(item.get("id")) or text_of(item.get("incident_number")),
        ref=f"#{text_of(item.get('incident_number'))}",
        title=text_of(item.get("title")) or description,
        status=status,
        levels=[level(name_of(item.get("priority")), PRIORITIES), level(text_of(item.get("urgency")), URGENCIES)],
        services=[s for s in [name_of(item.get("service"))] if s],
        started=moment(item.get("created_at")),
        resolved=resolved,
        url=text_of(item.get("html_url")),
        summary="\n\n".join(s for s in (description, details) if s),
        owner=next((a for a in assignees if a), ""),
        tags=[t for t in teams if t],
        entries=timeline,
    )


def from_json(path: Path, data: Any) -> list[Incident] | None:
    """The incidents of a PagerDuty export, or None when ``data`` is not one."""
    incidents, loose = _gather(data)
    if not incidents:
        return None
    bounded(path, incidents)
    by_id: dict[str, list[dict[str, Any]]] = {}
    for entry in loose:
        ref = obj(entry.get("incident"))
        owner = text_of(ref.get("id")) or (text_of(incidents[0].get("id")) if len(incidents) == 1 else "")
        by_id.setdefault(owner, []).append(entry)
    return [
        _incident(item, dicts(item.get("log_entries")) + by_id.get(text_of(item.get("id")), []))
        for item in incidents
    ]
