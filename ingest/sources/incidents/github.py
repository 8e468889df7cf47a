"""GitHub issues exported as JSON: the REST API's issue objects (``GET /repos/{owner}/{repo}/issues``, a list,
or the search API's ``{"items": [...]}``) or ``gh issue list --json ...`` output (camelCase fields).

An issue is recognised by its ``number``, ``title`` and ``labels``. Its ``comments`` become the timeline
when they are a list of comment objects (``GET /issues/{n}/comments`` put into the issue, or what
``gh issue view --json comments`` gives); the API's comment count is no timeline. The body is Markdown
and keeps its headings. Labels give the severity (a label written as a level: ``sev1``, ``SEV-2``, ``P2``) and the
services (``service:checkout``, ``component/payments``); the issue's opening and closing are the start and
resolve times.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ingest.sources.incidents.model import Entry, Incident, level, moment
from ingest.sources.incidents.read import bounded, dicts, name_of, prefixed, text_of


def _is_issue(item: object) -> bool:
    return isinstance(item, dict) and "number" in item and "title" in item and "labels" in item


def _field(item: dict[str, Any], snake: str, camel: str) -> Any:
    return item.get(snake) if item.get(snake) is not None else item.get(camel)


def _issue(item: dict[str, Any]) -> Incident:
    labels = [name_of(label) for label in item.get("labels") or [] if name_of(label)]
    created, closed = moment(_field(item, "created_at", "createdAt")), moment(_field(item, "closed_at", "closedAt"))
    author = name_of(item.get("user")) or name_of(item.get("author"))
    entries = [Entry(created, "Opened", author)]
    for comment in dicts(item.get("comments")):
        who = name_of(comment.get("user")) or name_of(comment.get("author"))
        entries.append(
            Entry(moment(_field(comment, "created_at", "createdAt")), "Comment", who, text_of(comment.get("body")))
        )
    if closed:
        entries.append(Entry(closed, "Closed", name_of(item.get("closed_by"))))
    assignees = [name_of(a) for a in dicts(item.get("assignees"))] or [name_of(item.get("assignee"))]
    return Incident(
        tool="GitHub",
        key=text_of(item.get("node_id")) or text_of(item.get("id")) or text_of(item.get("number")),
        ref=f"#{text_of(item.get('number'))}",
        title=text_of(item.get("title")),
        status=text_of(item.get("state")).lower(),
        levels=[level(label) for label in labels],  # a team's own labels: read when written as a level
        services=prefixed(labels, "service", "services", "svc", "component", "area"),
        started=created,
        resolved=closed,
        url=text_of(item.get("html_url")) or text_of(item.get("url")),
        summary=text_of(item.get("body")),
        owner=next((a for a in assignees if a), ""),
        tags=labels,
        entries=entries,
    )


def from_json(path: Path, data: Any) -> list[Incident] | None:
    if isinstance(data, dict):
        items = dicts(data.get("items")) or dicts(data.get("issues")) or [data]
    else:
        items = dicts(data)
    issues = [i for i in items if _is_issue(i)]
    return [_issue(i) for i in bounded(path, issues)] if issues else None
