"""The MCP server: the knowledge base as tools for AI SRE agents (`kb mcp`).

Read-only by default. Tools that write (saving a runbook proposal, applying one, ingesting files) exist only
when the server is started with ``--allow-writes``; ingesting reads only inside the folder given with
``--ingest-root`` and refuses everything when none is given. Each tool parses its arguments, calls one library
function and returns JSON-ready data; a knowledge-base error becomes a tool error with its message.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

from kb.alerting.enrich import as_json, enrich, group_of_alert
from kb.clients.openai_client import ChatModel
from kb.core.errors import KBError
from kb.core.models import Kind
from kb.core.settings import Settings
from kb.generation.summary import summarize
from kb.knowledge import KnowledgeBase
from kb.retrieval.alerts import parse_alert
from kb.retrieval.search import Query, result_json
from kb.retrieval.similar import COVERING
from kb.runbooks import draft, stale, update

try:
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
except ImportError as exc:  # pragma: no cover - depends on the optional extra
    raise KBError("the MCP server needs the 'mcp' extra: pip install 'incident-kb[mcp]'") from exc

INSTRUCTIONS = """Tools over a team's incident knowledge base: past postmortems, runbooks and incident chat
logs. Start with search_incidents or find_runbook_for_alert, read a result with get_document, and cite the
document ids you rely on. Drafts and summaries cite their sources (document id, section, character span)."""


F = TypeVar("F", bound=Callable[..., Any])


def reported(func: F) -> F:
    """A knowledge-base error (or a bad argument) reaches the agent as a tool error with its message."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (KBError, ValueError) as exc:
            raise ToolError(str(exc)) from exc

    return cast(F, wrapper)


def build_server(kb: KnowledgeBase, allow_writes: bool = False, ingest_root: Path | None = None) -> MCPServer:
    """An MCP server whose tools use this knowledge base (and its LLM, when one is configured). With writes
    allowed, ``ingest_files`` reads only inside ``ingest_root`` (and refuses every call when it is None)."""
    server: MCPServer = MCPServer(name="incident-kb", instructions=INSTRUCTIONS)
    settings, llm = kb.load().settings, kb.llm  # the store and model open now, not at the first call
    _search_tools(server, kb)
    _alert_tools(server, kb)
    _document_tools(server, kb)
    _generation_tools(server, kb, llm)
    if allow_writes:
        _write_tools(server, kb, settings, llm)
        _ingest_tool(server, kb, ingest_root)
    return server


def _kinds(kind: str | None) -> tuple[Kind, ...]:
    return (Kind(kind),) if kind else ()


def _search_tools(server: MCPServer, kb: KnowledgeBase) -> None:
    """search_incidents and find_runbook_for_alert."""

    @server.tool(description="Search past incidents, runbooks and chat logs by symptoms, error text or alert "
                 "text. Returns documents best first (or, with newest_first, the best k newest first), each with "
                 "matching passages, why it matched and how well (match: strong, partial or weak; a weak match is "
                 "the closest there is, not an answer).")
    @reported
    def search_incidents(
        query: str,
        kind: str | None = None,
        service: str | None = None,
        severity: str | None = None,
        since: str | None = None,
        until: str | None = None,
        k: int = 5,
        newest_first: bool = False,
    ) -> list[dict[str, Any]]:
        from datetime import date

        q = Query(
            text=query,
            k=max(1, min(k, 50)),
            kinds=_kinds(kind),
            services=(service,) if service else (),
            severities=(severity,) if severity else (),
            since=date.fromisoformat(since) if since else None,
            until=date.fromisoformat(until) if until else None,
            newest_first=newest_first,
        )
        return [result_json(d, labelled=True) for d in kb.measured(query, kb.search(q))]

    @server.tool(description="Find the runbooks (and past incidents) for a firing alert. `alert` is an "
                 "Alertmanager webhook payload or a Prometheus alert (labels + annotations), as JSON or YAML "
                 "text.")
    @reported
    def find_runbook_for_alert(alert: str, k: int = 3) -> dict[str, Any]:
        parsed = parse_alert(alert, "the alert")
        found = kb.search_alert(parsed, max(1, k))
        return {
            "alerts": parsed.alertnames,
            "query": parsed.text,
            "runbooks": [result_json(d) for d in found.runbooks],
            "past_incidents": [result_json(d) for d in found.incidents],
        }


def _alert_tools(server: MCPServer, kb: KnowledgeBase) -> None:
    """enrich_alert."""

    @server.tool(description="Enrich a firing alert: the most similar past incidents (one per incident, each "
                 "labelled strong/partial match), the runbook for it opened at the passage that matched (`start`, "
                 "a character offset), and a one-paragraph 'what helped last time' whose [n] markers point at "
                 "`citations` (document id, start, quote). `alert` is an Alertmanager webhook payload or a "
                 "Prometheus alert (labels + annotations), as JSON or YAML text.")
    @reported
    def enrich_alert(alert: str) -> dict[str, Any]:
        return as_json(enrich(kb, group_of_alert(alert)))


def _document_tools(server: MCPServer, kb: KnowledgeBase) -> None:
    """get_document and similar_incidents."""

    @server.tool(description="One document by id: metadata, sections and full text (offsets in citations "
                 "point into `text`).")
    @reported
    def get_document(id: str) -> dict[str, Any]:
        record = kb.record(id)
        data = record.model_dump(mode="json", exclude={"front_matter"})
        data["messages"] = data["messages"][:500]
        return data

    @server.tool(description="Past incidents most like a given one (from its symptoms, root cause and fix), "
                 "without the document itself or copies of it, then the runbooks that cover it; each result's "
                 "`relation` says which: 'similar incident' or 'covering runbook'.")
    @reported
    def similar_incidents(id: str, k: int = 5) -> list[dict[str, Any]]:
        found = kb.similar(id, max(1, k), (Kind.postmortem, Kind.chat), covering=COVERING)
        return [{**result_json(d), "relation": d.relation} for d in found]


def _generation_tools(server: MCPServer, kb: KnowledgeBase, llm: ChatModel | None) -> None:
    """draft_runbook, summarize_chat_log, list_stale_runbooks and ask_knowledge_base."""

    @server.tool(description="Draft a runbook for a topic or an alert from what worked in past incidents. "
                 "Every step cites its source passage; ungrounded steps are dropped and listed.")
    @reported
    def draft_runbook(topic: str | None = None, alert: str | None = None, service: str | None = None) -> dict[str, Any]:
        parsed = parse_alert(alert, "the alert") if alert else None
        return draft.draft_runbook(kb, topic, alert=parsed, service=service, llm=llm).as_json()

    @server.tool(description="A postmortem draft (timeline, impact, action items...) of a stored chat log, "
                 "every line citing the message it comes from.")
    @reported
    def summarize_chat_log(id: str) -> dict[str, Any]:
        return summarize(kb.record(id), llm=llm).as_json()

    @server.tool(description="Runbooks whose services or alerts had incidents since the runbook last changed, "
                 "most stale first.")
    @reported
    def list_stale_runbooks() -> list[dict[str, Any]]:
        return [s.model_dump(mode="json") for s in stale.stale_runbooks(kb)]

    @server.tool(description="Ask the knowledge base an on-call question. Returns a short answer whose every "
                 "line cites a passage (document id, section, character span), the sources and a confidence; "
                 "when nothing relevant is stored it says so and lists the closest documents.")
    @reported
    def ask_knowledge_base(question: str, kind: str | None = None, service: str | None = None) -> dict[str, Any]:
        from kb.generation.ask import ask

        return ask(kb, question, kinds=_kinds(kind), services=(service,) if service else (), llm=llm).as_json()


def _write_tools(server: MCPServer, kb: KnowledgeBase, settings: Settings, llm: ChatModel | None) -> None:
    """propose_runbook_update and apply_runbook_proposal: only with --allow-writes."""
    from ingest.revisions import apply_proposal

    @server.tool(description="Propose an update to a runbook from incidents since its last revision: a "
                 "cited unified diff, saved in the proposal store under `proposal_id` (nothing changes until "
                 "it is applied).")
    @reported
    def propose_runbook_update(id: str, since: str | None = None) -> dict[str, Any]:
        from datetime import date

        when = date.fromisoformat(since) if since else None
        return update.propose_update(settings, kb, id, since=when, llm=llm).as_json()

    @server.tool(description="Apply a saved runbook proposal, given its `proposal_id` (as "
                 "propose_runbook_update returned it; never a file path): the runbook's stored text plus the "
                 "proposal's diff becomes a new revision, re-indexed. Only do this when a person has approved "
                 "the diff.")
    @reported
    def apply_runbook_proposal(proposal_id: str) -> dict[str, Any]:
        applied = apply_proposal(kb, proposal_id, paths=False)
        return json.loads(applied.model_dump_json())


def _ingest_tool(server: MCPServer, kb: KnowledgeBase, root: Path | None) -> None:
    """ingest_files: only with --allow-writes, and only inside the folder given with --ingest-root."""

    @server.tool(description="Ingest a file or folder of postmortems, runbooks, chat logs or exports (Markdown, "
                 "PDF, text, chat transcripts, Slack, Confluence, Google Docs, Word, Notion, PagerDuty, Opsgenie, "
                 "Jira, incident.io, GitHub issues) as `kb ingest` does. `path` is relative to the server's ingest "
                 "folder; anything outside it is refused. Returns one result per file: ingested (added or "
                 "updated, with its document ids), unchanged, skipped (not a supported format) or failed (with "
                 "the reason). Re-ingesting unchanged files changes nothing.")
    @reported
    def ingest_files(path: str, kind: str | None = None) -> dict[str, Any]:
        if root is None:
            raise ToolError("ingest_files is off: the server was started without --ingest-root, the folder it "
                            "may ingest from")
        from ingest.confined import ingest_inside
        from ingest.pipeline import Ingestor  # llama-index loads with it: only this tool needs it

        files = ingest_inside(Ingestor.into(kb), root, path, Kind(kind) if kind else None)
        counts = {r: sum(1 for f in files if f["result"] == r) for r in ("ingested", "unchanged", "skipped", "failed")}
        return {"path": path, **counts, "files": files}
