"""Reading what a sender posts: an Alertmanager webhook (version 4) or a PagerDuty v3 webhook event, as an
``AlertGroup``.

Both readers take the raw body (bytes, anyone may have written them) and return a ``Delivery``: the alert
group to enrich, or why the delivery is acknowledged and left alone (a resolved group, an acknowledged
incident, PagerDuty's ping). A body that is not such a payload raises ``PayloadError`` with a one-line reason
a sender's operator can act on.

Alertmanager's webhook (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config)::

    {"version": "4", "groupKey": "...", "status": "firing", "receiver": "kb", "groupLabels": {...},
     "commonLabels": {...}, "commonAnnotations": {...}, "externalURL": "http://am:9093", "alerts": [...]}

PagerDuty's v3 webhook: one event per delivery, the incident under ``event.data``::

    {"event": {"id": "...", "event_type": "incident.triggered", "resource_type": "incident",
               "occurred_at": "...", "data": {"id": "PGR0VU2", "type": "incident", "title": "...",
               "html_url": "...", "service": {"summary": "checkout"}, "priority": {"summary": "P1"},
               "urgency": "high", "status": "triggered"}}}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from kb.alerting.models import AlertGroup
from kb.core.bounded import Refused, load_json
from kb.core.errors import KBError
from kb.retrieval.alerts import AlertParseError, parse_alert

#: the largest body read; Alertmanager's webhook of a few hundred alerts fits many times over
MAX_BODY_BYTES = 1024 * 1024
#: PagerDuty events that open an incident: only these are enriched
PAGERDUTY_NEW = frozenset({"incident.triggered"})
#: PagerDuty events after which a later trigger of the same incident is new again
PAGERDUTY_CLOSED = frozenset({"incident.resolved"})
MAX_TITLE = 300


class PayloadError(KBError):
    """The body is not a payload this endpoint reads; the message says why, in one line."""


@dataclass(frozen=True)
class Delivery:
    """What one delivery asks for: ``group`` to enrich, or ``ignored`` saying why nothing is done. ``closed``
    names a group key the sender says is over (resolved), so a new firing of it is enriched again."""

    group: AlertGroup | None
    ignored: str = ""
    closed: str | None = None


def _object(raw: bytes, what: str) -> dict[str, Any]:
    """The body as a JSON object, within the size and nesting bounds."""
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadError(f"{what}: the body is {len(raw)} bytes, over the {MAX_BODY_BYTES} byte limit")
    if not raw.strip():
        raise PayloadError(f"{what}: empty body")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError(f"{what}: the body is not UTF-8 (byte {exc.start})") from exc
    try:
        data = load_json(text, "the body")
    except json.JSONDecodeError as exc:
        raise PayloadError(f"{what}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from exc
    except Refused as exc:
        raise PayloadError(f"{what}: {exc}") from exc
    if not isinstance(data, dict):
        raise PayloadError(f"{what}: expected a JSON object, got {type(data).__name__}")
    return data


def _strings(value: Any) -> dict[str, str]:
    """A label or annotation map, keeping string keys with scalar values."""
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items() if isinstance(v, (str, int, float)) and not isinstance(v, bool)}


def _line(text: str, limit: int = MAX_TITLE) -> str:
    """One line, at most ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _alertmanager_title(data: dict[str, Any], names: list[str]) -> str:
    annotations = _strings(data.get("commonAnnotations"))
    labels = _strings(data.get("commonLabels"))
    alerts = [a for a in data["alerts"] if isinstance(a, dict)]
    firing = sum(1 for a in alerts if a.get("status", "firing") == "firing") or len(alerts)
    name = ", ".join(names) or "alert group"
    where = labels.get("service") or labels.get("job") or labels.get("namespace") or ""
    summary = annotations.get("summary") or ""
    if not summary and len(alerts) == 1:
        summary = _strings(alerts[0].get("annotations")).get("summary", "")
    head = f"[{firing}] {name}" + (f" ({where})" if where else "")
    return _line(f"{head}: {summary}" if summary else head)


def read_alertmanager(raw: bytes) -> Delivery:
    """An Alertmanager webhook: the firing group to enrich (resolved groups are acknowledged, not enriched)."""
    what = "Alertmanager webhook"
    data = _object(raw, what)
    if not isinstance(data.get("alerts"), list):
        raise PayloadError(f"{what}: no 'alerts' list (expected Alertmanager's webhook payload, version 4)")
    version = str(data.get("version", "4"))
    if version != "4":
        raise PayloadError(f"{what}: version {version!r}; this endpoint reads version 4")
    key = data.get("groupKey")
    if not isinstance(key, str) or not key:
        raise PayloadError(f"{what}: no 'groupKey' (each alert group is enriched once, by its key)")
    status = data.get("status")
    if status not in ("firing", "resolved"):
        raise PayloadError(f"{what}: status {status!r} is neither 'firing' nor 'resolved'")
    if status == "resolved":
        return Delivery(None, ignored="the alert group is resolved", closed=key)
    try:
        query = parse_alert(raw.decode("utf-8"), what)
    except AlertParseError as exc:
        raise PayloadError(str(exc)) from exc
    external = data.get("externalURL")
    link = external if isinstance(external, str) and external.startswith(("http://", "https://")) else None
    group = AlertGroup(
        source="alertmanager",
        key=key,
        status="firing",
        title=_alertmanager_title(data, query.alertnames),
        text=query.text,
        alertnames=tuple(query.alertnames),
        labels={**_strings(data.get("commonLabels")), **_strings(data.get("groupLabels"))},
        link=link,
    )
    return Delivery(group)


def _summary(value: Any) -> str:
    """The ``summary`` of a PagerDuty reference object (service, priority), or the value when it is a string."""
    if isinstance(value, dict):
        value = value.get("summary")
    return value if isinstance(value, str) else ""


def _pagerduty_group(incident: dict[str, Any], what: str) -> AlertGroup:
    key = incident.get("id")
    title = incident.get("title")
    if not isinstance(key, str) or not key:
        raise PayloadError(f"{what}: the incident has no 'id'")
    if not isinstance(title, str) or not title.strip():
        raise PayloadError(f"{what}: the incident has no 'title' to search with")
    service = _summary(incident.get("service"))
    priority = _summary(incident.get("priority"))
    urgency = incident.get("urgency") if isinstance(incident.get("urgency"), str) else ""
    labels = {k: v for k, v in (("service", service), ("priority", priority), ("urgency", urgency)) if v}
    url = incident.get("html_url")
    return AlertGroup(
        source="pagerduty",
        key=key,
        status="firing",
        title=_line(title),
        text=" ".join(part for part in (title.strip(), service) if part),
        labels=labels,
        link=url if isinstance(url, str) and url.startswith("https://") else None,
    )


def read_pagerduty(raw: bytes) -> Delivery:
    """A PagerDuty v3 webhook event: a new incident to enrich (other events are acknowledged, not enriched)."""
    what = "PagerDuty webhook"
    data = _object(raw, what)
    event = data.get("event")
    if not isinstance(event, dict):
        raise PayloadError(f"{what}: no 'event' object (expected a v3 webhook: {{\"event\": {{...}}}})")
    kind = event.get("event_type")
    if not isinstance(kind, str) or not kind:
        raise PayloadError(f"{what}: the event has no 'event_type'")
    incident = event.get("data")
    if kind in PAGERDUTY_CLOSED and isinstance(incident, dict) and isinstance(incident.get("id"), str):
        return Delivery(None, ignored=f"{kind} is not a new incident", closed=incident["id"])
    if kind not in PAGERDUTY_NEW:
        return Delivery(None, ignored=f"{kind} is not a new incident")
    if not isinstance(incident, dict):
        raise PayloadError(f"{what}: {kind} carries no incident in 'event.data'")
    return Delivery(_pagerduty_group(incident, what))


def read_any(raw: bytes) -> Delivery:
    """A body from a caller of the synchronous endpoint: a PagerDuty event when it has an ``event`` object,
    else an Alertmanager webhook or a bare alert (what `kb search --alert` reads), enriched whatever its
    status."""
    data = _object(raw, "alert")
    if isinstance(data.get("event"), dict):
        return read_pagerduty(raw)
    if isinstance(data.get("alerts"), list) and "groupKey" in data:
        return read_alertmanager(raw)
    try:
        query = parse_alert(raw.decode("utf-8"), "alert")
    except AlertParseError as exc:
        raise PayloadError(str(exc)) from exc
    title = ", ".join(query.alertnames) or query.text
    group = AlertGroup(source="api", key="", status="firing", title=_line(title), text=query.text,
                       alertnames=tuple(query.alertnames), labels=dict(query.labels))
    return Delivery(group)
