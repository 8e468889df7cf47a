"""Opsgenie alerts and incidents, as JSON from its REST API or as a CSV export.

JSON: ``{"data": [...]}`` (``GET /v2/alerts``, ``GET /v1/incidents``), ``{"data": {...}}`` (one alert) or a
list of alert objects; an object is recognised by its ``tinyId`` and ``message``. An alert may carry its
``logs`` and ``notes`` (the ``data`` of ``GET /v2/alerts/{id}/logs`` and ``/notes``) for the timeline;
without them the timeline is its creation, acknowledgement and close (``report.ackTime``/``closeTime``).

CSV: recognised by its ``TinyId`` and ``Message`` columns; read are Alias/Id, Priority, Status,
CreatedAt, AcknowledgedAt/AckTime, ClosedAt/UpdatedAt (closed alerts), Tags, Owner, Description,
AcknowledgedBy, ClosedBy and a Service/Services/Impacted Services column.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from ingest.sources.incidents.model import Entry, Incident, comments, level, moment
from ingest.sources.incidents.read import Table, bounded, dicts, name_of, obj, prefixed, text_of

#: Opsgenie's alert and incident priorities: P1 critical, P2 high, P3 moderate, P4 low, P5 informational
PRIORITIES = {"p1": 1, "p2": 2, "p3": 3, "p4": 4, "p5": 5}
_SERVICE_KEYS = ("service", "services", "component", "impacted service", "impactedservices")


def _is_alert(item: object) -> bool:
    return isinstance(item, dict) and "tinyId" in item and "message" in item


def _labels(value: object) -> list[str]:
    if isinstance(value, list):
        return [text_of(v) for v in value if text_of(v)]
    return [t for t in re.split(r"[,\s]+", text_of(value)) if t]


def _services(item: dict[str, Any], tags: list[str]) -> list[str]:
    details = obj(item.get("details"))
    named = [text_of(v) for k, v in details.items() if str(k).lower() in _SERVICE_KEYS]
    services = [s.strip() for value in named for s in value.split(",") if s.strip()]
    return list(dict.fromkeys(services + prefixed(tags, "service", "services", "component")))


def _words(name: str) -> str:
    """A log type as words: 'alertAck' -> 'Alert ack'."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).capitalize()


def _listed(value: object) -> list[dict[str, Any]]:
    """A list of objects, given bare or as the API's response ``{"data": [...]}``."""
    return dicts(value) or dicts(obj(value).get("data"))


def _after(start: object, millis: object) -> Any:
    began = moment(start)
    try:
        return began + timedelta(milliseconds=float(str(millis))) if began and millis not in (None, "") else None
    except (ValueError, OverflowError):
        return None


def _alert(item: dict[str, Any]) -> Incident:
    tags = _labels(item.get("tags"))
    report = obj(item.get("report"))
    started = moment(item.get("createdAt"))
    acked = _after(item.get("createdAt"), report.get("ackTime"))
    closed = _after(item.get("createdAt"), report.get("closeTime"))
    entries = [
        Entry(moment(log.get("createdAt")), _words(text_of(log.get("type"))) or "Log", text_of(log.get("owner")),
              text_of(log.get("log")))
        for log in _listed(item.get("logs"))
    ] + comments(_listed(item.get("notes")), "Note", at="createdAt", who="owner", text="note")
    if not entries:
        entries = [Entry(started, "Created", text_of(item.get("source")), text_of(item.get("message")))]
        if acked:
            entries.append(Entry(acked, "Acknowledged", text_of(report.get("acknowledgedBy"))))
        if closed:
            entries.append(Entry(closed, "Closed", text_of(report.get("closedBy"))))
    incident = "impactedServices" in item or "ownerTeam" in item
    return Incident(
        tool="Opsgenie",
        key=text_of(item.get("id")) or text_of(item.get("tinyId")),
        ref=f"{'incident' if incident else 'alert'} #{text_of(item.get('tinyId'))}",
        title=text_of(item.get("message")),
        status=text_of(item.get("status")),
        levels=[level(text_of(item.get("priority")), PRIORITIES)],
        services=_services(item, tags),
        started=started,
        resolved=closed,
        summary=text_of(item.get("description")),
        owner=text_of(item.get("owner")) or name_of(item.get("ownerTeam")),
        tags=tags,
        entries=entries,
    )


def from_json(path: Path, data: Any) -> list[Incident] | None:
    found = data.get("data") if isinstance(data, dict) else data
    items = [found] if isinstance(found, dict) else dicts(found)
    alerts = [a for a in items if _is_alert(a)]
    return [_alert(a) for a in bounded(path, alerts)] if alerts else None


def from_table(path: Path, table: Table) -> list[Incident] | None:
    if not {"tinyid", "message"} <= table.names:
        return None
    out = []
    for row in bounded(path, table.rows):
        tags = _labels(table.value(row, "Tags"))
        status = table.value(row, "Status")
        started = moment(table.value(row, "CreatedAt", "Created At", "Created"))
        acked = moment(table.value(row, "AcknowledgedAt", "Acknowledged At", "AckTime"))
        closed = moment(table.value(row, "ClosedAt", "Closed At", "CloseTime"))
        if closed is None and status.lower() == "closed":
            closed = moment(table.value(row, "UpdatedAt", "Updated At"))
        entries = [Entry(started, "Created", table.value(row, "Source"), table.value(row, "Message"))]
        if acked:
            entries.append(Entry(acked, "Acknowledged", table.value(row, "AcknowledgedBy", "Acknowledged By")))
        if closed:
            entries.append(Entry(closed, "Closed", table.value(row, "ClosedBy", "Closed By")))
        services = [s.strip() for v in table.values(row, *_SERVICE_KEYS) for s in v.split(",") if s.strip()]
        out.append(
            Incident(
                tool="Opsgenie",
                key=table.value(row, "Id", "AlertId", "Alert Id", "Alias", "TinyId"),
                ref=f"alert #{table.value(row, 'TinyId')}",
                title=table.value(row, "Message"),
                status=status,
                levels=[level(table.value(row, "Priority"), PRIORITIES)],
                services=list(dict.fromkeys(services + prefixed(tags, "service", "services", "component"))),
                started=started,
                resolved=closed,
                summary=table.value(row, "Description"),
                owner=table.value(row, "Owner"),
                tags=tags,
                entries=entries,
            )
        )
    return out
