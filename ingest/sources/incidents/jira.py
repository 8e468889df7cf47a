"""Jira issues, as the REST API's search returns them or as Jira's CSV export writes them.

JSON: ``{"issues": [...]}`` (``GET /rest/api/2|3/search``), one issue, or a list of issues; an issue is
recognised by its ``key`` and ``fields``. Descriptions and comments may be text (API v2) or Atlassian
Document Format (v3). With ``expand=names`` a custom field named like "Severity" is read first.

CSV: recognised by its ``Issue key`` and ``Summary`` columns. Jira repeats a column for each value
(several ``Labels``, ``Component/s``, ``Comment`` columns): every one is read. A comment cell is
``date;author;text``. Jira writes dates in the exporting user's time zone (as ``14/May/24 1:07 PM``);
they are read as UTC.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ingest.sources.incidents.model import Entry, Incident, Level, comments, level, moment
from ingest.sources.incidents.read import Table, bounded, dicts, name_of, obj, text_of

#: Jira's default priorities (Cloud: Highest to Lowest; Server and Data Center before 8: Blocker to Trivial)
PRIORITIES = {
    "highest": 1, "high": 2, "medium": 3, "low": 4, "lowest": 5,
    "blocker": 1, "critical": 1, "major": 2, "minor": 3, "trivial": 5,
}  # fmt: skip


def _levels(severities: list[str], priority: str, labels: list[str]) -> list[Level]:
    """A severity field (a site's own, so read only when written as a level), then the priority, then labels."""
    return [*(level(s) for s in severities), level(priority, PRIORITIES), *(level(label) for label in labels)]


def _is_issue(item: object) -> bool:
    return isinstance(item, dict) and "key" in item and isinstance(item.get("fields"), dict)


def adf_text(value: object) -> str:
    """Plain text of an Atlassian Document Format node (API v3), or the string itself (v2): the loaded JSON
    is nested at most ``bounded.MAX_DEPTH`` levels, so walking it is bounded too."""
    if not isinstance(value, dict):
        return text_of(value)
    stack: list[Any] = [value]
    out: list[str] = []
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            out.append(node)
            continue
        if not isinstance(node, dict):
            continue
        if node.get("type") == "text":
            out.append(text_of(node.get("text")))
        elif node.get("type") == "hardBreak":
            out.append("\n")
        children = dicts(node.get("content"))
        if node.get("type") in {"paragraph", "heading", "listItem", "codeBlock", "blockquote"}:
            stack.append("\n\n")
        stack.extend(reversed(children))
    return "".join(out).strip()


def _custom(fields: dict[str, Any], names: dict[str, Any], word: str) -> list[str]:
    """Values of the custom fields whose name (``expand=names``) holds ``word``."""
    out = []
    for key, name in names.items():
        if word in str(name).lower() and fields.get(key) is not None:
            value = fields[key]
            out.append(name_of(value) or text_of(value.get("value")) if isinstance(value, dict) else text_of(value))
    return [v for v in out if v]


def _issue(item: dict[str, Any], names: dict[str, Any]) -> Incident:
    fields: dict[str, Any] = item["fields"]
    block = obj(fields.get("comment"))
    listed = dicts(block.get("comments") if block else fields.get("comment"))
    notes = comments(listed, "Comment", at="created", who="author", text="body", body=adf_text)
    created, resolved = moment(fields.get("created")), moment(fields.get("resolutiondate"))
    entries = [Entry(created, "Created", name_of(fields.get("reporter")), ""), *notes]
    if resolved:
        entries.append(Entry(resolved, "Resolved", "", name_of(fields.get("resolution"))))
    labels = [text_of(v) for v in fields.get("labels") or [] if text_of(v)]
    key = text_of(item.get("key"))
    return Incident(
        tool="Jira",
        key=text_of(item.get("id")) or key,
        ref=key,
        title=text_of(fields.get("summary")),
        status=name_of(fields.get("status")),
        levels=_levels(_custom(fields, names, "severity"), name_of(fields.get("priority")), labels),
        services=[*(name_of(c) for c in dicts(fields.get("components"))), *_custom(fields, names, "service")],
        started=created,
        resolved=resolved,
        url=text_of(item.get("self")),
        summary=adf_text(fields.get("description")),
        owner=name_of(fields.get("assignee")),
        tags=labels,
        entries=entries,
    )


def from_json(path: Path, data: Any) -> list[Incident] | None:
    if isinstance(data, dict) and not _is_issue(data):
        items = dicts(data.get("issues"))
        names = obj(data.get("names"))
    else:
        items, names = (dicts(data) if isinstance(data, list) else [data]), {}
    issues = [i for i in items if _is_issue(i)]
    return [_issue(i, names) for i in bounded(path, issues)] if issues else None


def _comment(cell: str) -> Entry:
    """A CSV comment cell, 'date;author;text' (a cell in another form is all text)."""
    when, _, rest = cell.partition(";")
    author, _, text = rest.partition(";")
    at = moment(when)
    return Entry(at, "Comment", author.strip(), text.strip()) if at else Entry(None, "Comment", "", cell)


def from_table(path: Path, table: Table) -> list[Incident] | None:
    if not {"issuekey", "summary"} <= table.names:
        return None
    severity_columns = [h for h in table.header if "severity" in h.lower()]
    out = []
    for row in bounded(path, table.rows):
        created = moment(table.value(row, "Created"))
        resolved = moment(table.value(row, "Resolved", "Resolution Date"))
        entries = [Entry(created, "Created", table.value(row, "Reporter"), "")]
        entries += [_comment(cell) for cell in table.values(row, "Comment")]
        if resolved:
            entries.append(Entry(resolved, "Resolved", "", table.value(row, "Resolution")))
        labels = table.values(row, "Labels")
        key = table.value(row, "Issue key")
        out.append(
            Incident(
                tool="Jira",
                key=table.value(row, "Issue id") or key,
                ref=key,
                title=table.value(row, "Summary"),
                status=table.value(row, "Status"),
                levels=_levels(table.values(row, *severity_columns), table.value(row, "Priority"), labels),
                services=table.values(row, "Component/s", "Components"),
                started=created,
                resolved=resolved,
                summary=table.value(row, "Description"),
                owner=table.value(row, "Assignee"),
                tags=labels,
                entries=entries,
            )
        )
    return out
