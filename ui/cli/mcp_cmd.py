"""`kb mcp`: serve the knowledge base to AI agents over the Model Context Protocol."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kb.core.errors import ConfigError
from ui.cli.context import Context


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "mcp",
        help="serve the knowledge base as MCP tools for AI agents",
        description="An MCP server with the tools search_incidents, find_runbook_for_alert, get_document, "
        "similar_incidents, draft_runbook, summarize_chat_log, list_stale_runbooks and ask_knowledge_base. "
        "Read-only unless --allow-writes adds propose_runbook_update, apply_runbook_proposal and ingest_files "
        "(which reads only inside --ingest-root). Needs the 'mcp' extra (pip install 'incident-kb[mcp]').",
    )
    p.add_argument("--transport", choices=["stdio", "http"], default="stdio",
                   help="stdio (an agent starts `kb mcp`) or http (streamable HTTP at /mcp; default stdio)")
    p.add_argument("--port", type=int, default=8765, help="HTTP port (default 8765)")
    p.add_argument("--host", default="127.0.0.1", help="HTTP address (default 127.0.0.1)")
    p.add_argument("--allow-writes", action="store_true",
                   help="also expose the tools that write: runbook proposals and ingest_files")
    p.add_argument("--ingest-root", type=Path, metavar="DIR",
                   help="the folder ingest_files may read (a path inside it; nothing outside). Without it "
                   "ingest_files refuses every call")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from ui.mcp.server import build_server

    if args.ingest_root is not None and not args.allow_writes:
        raise ConfigError("--ingest-root goes with --allow-writes: ingest_files is a tool that writes")
    if args.ingest_root is not None and not args.ingest_root.expanduser().is_dir():
        raise ConfigError(f"--ingest-root {args.ingest_root}: not a folder")
    server = build_server(ctx.kb, allow_writes=args.allow_writes, ingest_root=args.ingest_root)
    if args.transport == "stdio":
        server.run("stdio")
    else:
        print(f"MCP server on http://{args.host}:{args.port}/mcp", file=sys.stderr)
        server.run("streamable-http", host=args.host, port=args.port)
    return 0
