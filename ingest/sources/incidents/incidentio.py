"""incident.io incidents, as JSON from its API (v2) or as the dashboard's CSV export.

JSON: ``{"incidents": [...]}`` (``GET /v2/incidents``) or one ``{"incident": {...}}``; an incident is
recognised by its ``reference`` and ``incident_status``. ``incident_updates`` (``GET /v2/incident_updates``)
given beside them, in the same object or as a further object of a list, become timeline entries, as do
the incident's ``incident_timestamp_values`` (reported, accepted, resolved...). Services come from custom
fields whose name holds "service" (catalog entries, options or text).

CSV: recognised by its ``Reference`` and ``Name`` columns with a ``Severity`` or ``Status`` column; every
column named "... at" holding a time becomes a timeline entry (Reported at, Resolved at, ...), and a
column whose name holds "service" gives the services.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ingest.sources.incidents.model import Entry, Incident, level, moment
from ingest.sources.incidents.read import Table, bounded, dicts, name_of, norm, obj, text_of

#: incident.io's default severities; one an organisation names itself counts when written as a level ("SEV1")
SEVERITIES = {"critical": 1, "major": 2, "minor": 3}


def _is_incident(item: object) -> bool:
    return isinstance(item, dict) and "reference" in item and "incident_status" in item


def _gather(data: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    parts = data if isinstance(data, list) else [data]
    incidents: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for part in dicts(parts):
        if _is_incident(part):
            incidents.append(part)
        incidents += [i for i in dicts(part.get("incidents")) if _is_incident(i)]
        if _is_incident(part.get("incident")):
            incidents.append(part["incident"])
        updates += dicts(part.get("incident_updates"))
    return incidents, updates


def _field_values(entry: dict[str, Any]) -> list[str]:
    out = []
    for value in dicts(entry.get("values")):
        for key in ("value_catalog_entry", "value_option"):
            if isinstance(value.get(key), dict):
                out.append(name_of(value[key]) or text_of(value[key].get("value")))
        out.append(text_of(value.get("value_text")))
    return [v for v in out if v]


def _moment_name(name: str) -> str:
    """'Reported at' -> 'Reported'."""
    return name[:-3].strip() if name.lower().endswith(" at") else name


def _incident(item: dict[str, Any], updates: list[dict[str, Any]]) -> Incident:
    services: list[str] = []
    for entry in dicts(item.get("custom_field_entries")):
        if "service" in name_of(entry.get("custom_field")).lower():
            services += _field_values(entry)
    stamps: dict[str, Any] = {}
    entries = []
    for value in dicts(item.get("incident_timestamp_values")):
        name = name_of(value.get("incident_timestamp"))
        at = moment(obj(value.get("value")).get("value"))
        if name and at:
            stamps[name.lower()] = at
            entries.append(Entry(at, _moment_name(name)))
    for update in updates:
        user = obj(update.get("updater")).get("user")
        status = name_of(update.get("new_incident_status"))
        entries.append(
            Entry(moment(update.get("created_at")), f"Update ({status})" if status else "Update", name_of(user),
                  text_of(update.get("message")))
        )
    started = next((v for k, v in stamps.items() if "impact" in k and "start" in k), None)
    started = started or stamps.get("reported at") or moment(item.get("created_at"))
    resolved = next((v for k, v in stamps.items() if "resolved" in k or "fixed" in k), None) or stamps.get("closed at")
    leads = [a for a in dicts(item.get("incident_role_assignments")) if isinstance(a.get("role"), dict)]
    lead = next((name_of(a.get("assignee")) for a in leads if a["role"].get("role_type") == "lead"), "")
    return Incident(
        tool="incident.io",
        key=text_of(item.get("id")) or text_of(item.get("reference")),
        ref=text_of(item.get("reference")),
        title=text_of(item.get("name")),
        status=name_of(item.get("incident_status")),
        levels=[level(name_of(item.get("severity")), SEVERITIES)],
        services=list(dict.fromkeys(services)),
        started=started,
        resolved=resolved,
        url=text_of(item.get("permalink")),
        summary=text_of(item.get("summary")),
        owner=lead,
        tags=[name_of(item.get("incident_type"))] if name_of(item.get("incident_type")) else [],
        entries=entries,
    )


def from_json(path: Path, data: Any) -> list[Incident] | None:
    incidents, updates = _gather(data)
    if not incidents:
        return None
    by_id: dict[str, list[dict[str, Any]]] = {}
    for update in updates:
        by_id.setdefault(text_of(update.get("incident_id")), []).append(update)
    return [_incident(i, by_id.get(text_of(i.get("id")), [])) for i in bounded(path, incidents)]


def from_table(path: Path, table: Table) -> list[Incident] | None:
    names = table.names
    if not ({"reference", "name"} <= names and names & {"severity", "status"}):
        return None
    stamp_columns = [h for h in table.header if h.lower().endswith(" at") and "updated" not in h.lower()]
    service_columns = [h for h in table.header if "service" in h.lower()]
    out = []
    for row in bounded(path, table.rows):
        stamps = {norm(h): moment(v) for h, v in zip(table.header, row, strict=False) if h in stamp_columns}
        entries = [Entry(at, _moment_name(h)) for h in stamp_columns if (at := stamps.get(norm(h)))]
        started = next((v for k, v in stamps.items() if v and "impact" in k and "start" in k), None)
        started = started or stamps.get("reportedat") or stamps.get("createdat")
        resolved = stamps.get("resolvedat") or stamps.get("closedat")
        services = [s.strip() for v in table.values(row, *service_columns) for s in v.split(",") if s.strip()]
        out.append(
            Incident(
                tool="incident.io",
                key=table.value(row, "ID") or table.value(row, "Reference"),
                ref=table.value(row, "Reference"),
                title=table.value(row, "Name"),
                status=table.value(row, "Status"),
                levels=[level(table.value(row, "Severity"), SEVERITIES)],
                services=list(dict.fromkeys(services)),
                started=started,
                resolved=resolved,
                url=table.value(row, "Permalink", "URL"),
                summary=table.value(row, "Summary"),
                owner=table.value(row, "Incident Lead", "Lead"),
                tags=table.values(row, "Incident Type", "Type"),
                entries=entries,
            )
        )
    return out
