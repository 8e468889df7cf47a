"""Exports of incident tools (.json, .csv): PagerDuty, Opsgenie, Jira, incident.io and GitHub issues.

Which tool wrote a file is recognised by its structure (JSON keys, CSV column names; each reader's
docstring lists what it accepts). Each incident becomes one postmortem record (``model.render``): a
timeline section with one timestamped line per log entry or comment, services, severity, start and
resolve times and the time to repair. A file of many incidents gives one record per incident, each
keyed by the tool's own incident id, so re-importing a newer export updates the same records.

A file that is none of these is refused with what it holds (a Slack export's day file is named as such:
the export folder is what is ingested).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ingest.sources.base import ParseOptions, content_hash, decode_text, finish_record, read_bytes, redact_text, slug
from ingest.sources.incidents import github, incidentio, jira, opsgenie, pagerduty
from ingest.sources.incidents.model import Incident, render
from ingest.sources.incidents.read import Table, json_data, sniffed, table
from ingest.sources.markdown import sections_of
from kb.core.errors import EmptyDocument, UnsupportedFile
from kb.core.models import Kind, Record

EXTENSIONS = (".json", ".csv")
TOOLS = "PagerDuty, Opsgenie, Jira, incident.io or GitHub issues"

#: tried in this order: each recognises only its own tool's keys or columns
JSON_READERS: tuple[Callable[[Path, Any], list[Incident] | None], ...] = (
    pagerduty.from_json, incidentio.from_json, opsgenie.from_json, jira.from_json, github.from_json,
)  # fmt: skip
CSV_READERS: tuple[Callable[[Path, Table], list[Incident] | None], ...] = (
    jira.from_table, opsgenie.from_table, incidentio.from_table,
)  # fmt: skip


def _shape(data: Any) -> str:
    if isinstance(data, dict):
        return "a JSON object with keys " + ", ".join(sorted(map(str, data))[:12])
    if isinstance(data, list):
        first = next((d for d in data if isinstance(d, dict)), None)
        return f"a JSON list of {len(data)} items" + (
            " with keys " + ", ".join(sorted(map(str, first))[:12]) if first is not None else ""
        )
    return f"a JSON {type(data).__name__}"


def _is_slack(data: Any) -> bool:
    return isinstance(data, list) and any(isinstance(m, dict) and "ts" in m and "type" in m for m in data[:50])


def incidents(path: Path, text: str) -> list[Incident]:
    """The incidents of an export file, or a ParseError saying why there are none."""
    if path.suffix.lower() == ".csv":
        first = sniffed(text)
        for delimiter in dict.fromkeys([first, ","]):  # the sniffer may guess wrong on a short file
            sheet = table(path, text, delimiter)
            for read_table in CSV_READERS:
                found = read_table(path, sheet)
                if found is not None:
                    return found
        columns = ", ".join(table(path, text, first).header[:12])
        raise UnsupportedFile(str(path), f"a CSV with columns {columns}: not an incident export ({TOOLS})")
    data = json_data(path, text)
    for read_json in JSON_READERS:
        found = read_json(path, data)
        if found is not None:
            return found
    if isinstance(data, dict) and any(data.get(key) == [] for key in ("incidents", "issues", "data", "items")):
        raise EmptyDocument(str(path), "the export holds no incidents")
    if _is_slack(data):
        raise UnsupportedFile(
            str(path), "a Slack channel's day file: ingest the whole export folder (with users.json and channels.json)"
        )
    raise UnsupportedFile(str(path), f"{_shape(data)}: not an incident export ({TOOLS})")


def _record(path: Path, incident: Incident, data_hash: str, options: ParseOptions) -> Record:
    markdown, front = render(incident)
    redacted = redact_text(markdown, options)
    title, sections = sections_of(redacted.text)
    return finish_record(
        path=path,
        source_key=f"{path}#{slug(incident.tool)}:{incident.key}",
        record_id=slug(f"{incident.tool} {incident.ref} {incident.title}")[:72].strip("-"),
        fmt=slug(incident.tool),
        data_hash=data_hash,
        text=redacted.text,
        sections=sections,
        front=front,
        title=title,
        redactions=redacted.total,
        options=options,
        default_kind=Kind.postmortem,
    )


def parse(path: Path, options: ParseOptions) -> list[Record]:
    """One postmortem record per incident of the export file."""
    data = read_bytes(path, options)
    found = incidents(path, decode_text(path, data))
    if not found:
        raise EmptyDocument(str(path), "the export holds no incidents")
    digest = content_hash(data, options)
    seen: dict[str, int] = {}
    for incident in found:  # an id listed twice (or none) still gives each incident a source key of its own
        seen[incident.key] = seen.get(incident.key, 0) + 1
        if seen[incident.key] > 1:
            incident.key = f"{incident.key}~{seen[incident.key]}"
    return [_record(path, incident, digest, options) for incident in found]
