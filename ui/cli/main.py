"""`kb`: the command-line shell. Each command group lives in its own module.

This module imports only the standard library at the top: a search started from the command line first asks
the resident service (``ui.cli.client``), and only when that does not answer are the library and the command
modules imported, in this process."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kb.knowledge import KnowledgeBase

DESCRIPTION = """Incident knowledge base: search past postmortems, runbooks and incident chat logs.

Works offline: the embedding model is installed with the package and the store is a local Chroma
database (KB_DATA_DIR, or --data-dir). Set KB_CHROMA_URL to share one Chroma server across a team.

quick start:
  kb ingest data/
  kb ui                                  (the web UI on http://127.0.0.1:8501)
  kb serve                               (enrich Alertmanager / PagerDuty alerts into Slack)
  kb search "checkout errors after a deploy"
  kb show <id>
  kb runbook draft "pgbouncer pool exhausted"
  kb summarize <chat id or file>
  kb gameday new --random && kb gameday play <scenario id>

An LLM is optional: set KB_LLM_MODEL (and KB_LLM_BASE_URL for a local OpenAI-compatible server) to have
one write drafts; without it, drafts are assembled from the documents' own text, every line cited."""


def build_parser() -> argparse.ArgumentParser:
    from ui.cli import (
        ask_cmd,
        docs_cmd,
        doctor_cmd,
        eval_cmd,
        gameday_cmd,
        ingest_cmd,
        mcp_cmd,
        runbook_cmd,
        search_cmd,
        serve_cmd,
        service_cmd,
        ui_cmd,
    )

    parser = argparse.ArgumentParser(
        prog="kb", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", help="where the embedded store lives (default: KB_DATA_DIR or a per-user dir)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    ingest_cmd.register(sub)
    search_cmd.register(sub)
    search_cmd.register_similar(sub)
    docs_cmd.register(sub)
    runbook_cmd.register(sub)
    gameday_cmd.register(sub)
    ui_cmd.register(sub)
    serve_cmd.register(sub)
    mcp_cmd.register(sub)
    doctor_cmd.register(sub)
    ask_cmd.register(sub)
    eval_cmd.register(sub)
    service_cmd.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """The `kb` command. Started as a process (``argv`` None), `kb search`, `kb similar` and `kb ask` are answered by
    the resident service when one serves this configuration and store (``ui.cli.client``)."""
    if argv is None:
        from ui.cli import client

        answered = client.forward(sys.argv[1:])
        if answered is not None:
            return answered
    return run(argv)


def run(argv: list[str] | None, kb: KnowledgeBase | None = None) -> int:
    """Parse ``argv`` and run the command in this process (with ``kb``: over that knowledge base, already open)."""
    from kb.core.errors import KBError
    from ui.cli.context import Context

    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        ctx = Context(args, kb)
        return int(args.run(args, ctx))
    except KBError as exc:
        print(f"kb: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `kb ... | head`: the reader left; not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("kb: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
