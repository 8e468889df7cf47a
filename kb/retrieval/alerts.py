"""Turn a pasted alert into a search query.

Accepted, as JSON or YAML: an Alertmanager webhook payload (``{"alerts": [...], "commonLabels": ...}``),
a single Prometheus/Alertmanager alert (``{"labels": ..., "annotations": ...}``), a list of alerts, or
an alerting rule (``{"alert": name, "expr": ..., "labels": ..., "annotations": ...}``). The query is
built from the summary, description, alert name and the labels that name what is affected.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import yaml

from kb.core.bounded import Refused, check_size, load_json, load_yaml
from kb.core.errors import KBError

#: the largest payload read: an Alertmanager webhook (JSON) of a few hundred alerts fits many times over
MAX_ALERT_BYTES = 1024 * 1024
#: YAML is read in Python at a few hundred KB a second: a pasted alert or rule is a few KB
MAX_YAML_ALERT_BYTES = 256 * 1024

#: Labels whose values say what is affected; others (instance IPs, prometheus replica...) are noise.
USEFUL_LABELS = (
    "alertname",
    "service",
    "job",
    "namespace",
    "container",
    "app",
    "deployment",
    "component",
    "cluster",
    "severity",
    "team",
    "queue",
    "topic",
    "consumergroup",
    "database",
    "db",
)
TEXT_ANNOTATIONS = ("summary", "description", "message", "title")


#: how pasted text that is meant as an alert begins: a JSON payload or list, or the top-level keys of an
#: Alertmanager webhook, an alert or an alerting rule in YAML
ALERT_STARTS = ("{", "[", "alerts:", "labels:", "groups:", "- labels", "receiver:")


def looks_like_alert(text: str) -> bool:
    """Whether pasted text is meant as an alert (to be read by ``parse_alert``) rather than free text."""
    text = text.strip()
    return text.startswith(ALERT_STARTS) or ("labels:" in text and "annotations:" in text)


class AlertParseError(KBError):
    """The pasted text is not an alert we can read."""


@dataclass
class AlertQuery:
    """What a pasted alert contributes to a search."""

    text: str
    alertnames: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)


def _alerts_in(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, list):
        return [a for item in data for a in _alerts_in(item)]
    if not isinstance(data, dict):
        return []
    if isinstance(data.get("alerts"), list):  # Alertmanager webhook
        common = {"labels": data.get("commonLabels") or {}, "annotations": data.get("commonAnnotations") or {}}
        found = [a for a in data["alerts"] if isinstance(a, dict)]
        return found or [common]
    if isinstance(data.get("groups"), list):  # a rules file
        return [r for g in data["groups"] if isinstance(g, dict) for r in g.get("rules") or [] if isinstance(r, dict)]
    if "labels" in data or "annotations" in data or "alert" in data:
        return [data]
    return []


def _clean(value: str) -> str:
    """The text without Go templates such as {{ $labels.pod }} and {{ $value | humanize }} (each within
    one line), in one pass: a lazy pattern would rescan the line from every unclosed ``{{``."""
    kept: list[str] = []
    pos = 0
    while (start := value.find("{{", pos)) >= 0:
        end = value.find("}}", start + 2)
        newline = value.find("\n", start + 2)
        if end < 0:
            break
        if 0 <= newline < end:  # not closed on its line: keep it as text
            kept.append(value[pos:newline])
            pos = newline
            continue
        kept.append(value[pos:start] + " ")
        pos = end + 2
    kept.append(value[pos:])
    return "".join(kept).strip()


def _yaml_reason(exc: yaml.YAMLError) -> str:
    """One line: what the YAML parser found wrong, and where (1-based)."""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"YAML: {problem}{where}"


def _load(raw: str, source: str) -> Any:
    """The payload as JSON, else as YAML; ``Refused`` when it is too deep or uses YAML aliases."""
    try:
        return load_json(raw, "the alert")
    except json.JSONDecodeError as json_exc:
        if raw.lstrip()[:1] in {"{", "["}:
            # it was meant as JSON: say where JSON broke, not what a YAML parser made of it
            raise AlertParseError(
                f"{source}: invalid JSON at line {json_exc.lineno}, column {json_exc.colno}: {json_exc.msg}"
            ) from json_exc
        check_size(raw, MAX_YAML_ALERT_BYTES, "the alert (as YAML)")
        try:
            return load_yaml(raw, "the alert")
        except yaml.YAMLError as exc:
            raise AlertParseError(f"{source}: neither JSON nor YAML ({_yaml_reason(exc)})") from exc


def parse_alert(raw: str, source: str = "alert") -> AlertQuery:
    """A query from an alert payload; ``AlertParseError`` naming ``source`` when it is not one."""
    if not raw.strip():
        raise AlertParseError(f"{source}: empty alert")
    try:
        check_size(raw, MAX_ALERT_BYTES, "the alert")
        data = _load(raw, source)
    except Refused as exc:
        raise AlertParseError(f"{source}: {exc}") from exc
    alerts = _alerts_in(data)
    if not alerts:
        raise AlertParseError(
            f"{source}: no alert found (expected an Alertmanager webhook payload, an alert with labels and "
            "annotations, or an alerting rule)"
        )
    parts: list[str] = []
    names: list[str] = []
    labels: dict[str, str] = {}
    for alert in alerts:
        alert_labels: dict[str, Any] = alert["labels"] if isinstance(alert.get("labels"), dict) else {}
        annotations: dict[str, Any] = alert["annotations"] if isinstance(alert.get("annotations"), dict) else {}
        name = str(alert.get("alert") or alert_labels.get("alertname") or "")
        if name and name not in names:
            names.append(name)
        for key in TEXT_ANNOTATIONS:
            value = annotations.get(key)
            if isinstance(value, str) and _clean(value) and _clean(value) not in parts:
                parts.append(_clean(value))
        for key in USEFUL_LABELS:
            value = alert_labels.get(key)
            if isinstance(value, (str, int)) and str(value) and key != "alertname":
                labels.setdefault(key, str(value))
    if not parts and not names:
        raise AlertParseError(f"{source}: the alert has no name, summary or description to search with")
    label_text = " ".join(v for k, v in labels.items() if k not in {"severity", "cluster"})
    text = " ".join([*names, *parts, label_text]).strip()
    return AlertQuery(text=text, alertnames=names, labels=labels)
