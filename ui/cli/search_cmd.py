"""`kb search`: find the past incidents and runbooks that fit a symptom or alert text."""

from __future__ import annotations

import argparse
from datetime import date

from kb.models import Kind
from kb.search import Query, search
from ui.cli import render
from ui.cli.context import Context

HELP = """Search the knowledge base. Results are documents (postmortems, runbooks, chat logs), best first,
each with the passages that matched and why.

examples:
  kb search "checkout 502 errors after a deploy"
  kb search "too many clients already" --kind postmortem --since 2024-01-01
  kb search "logged out users" --service auth -k 5 --json"""


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from exc


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "search",
        help="search past incidents, runbooks and chats",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("query", nargs="+", help="free text: symptoms, alert text, error messages")
    p.add_argument("-k", type=int, default=5, help="how many documents (default 5)")
    p.add_argument("--kind", action="append", choices=[k.value for k in Kind], help="only this kind (repeatable)")
    p.add_argument("--service", action="append", help="only documents about this service (repeatable)")
    p.add_argument("--severity", action="append", help="only this severity, e.g. SEV1 (repeatable)")
    p.add_argument("--since", type=_date, help="only documents dated on or after YYYY-MM-DD")
    p.add_argument("--until", type=_date, help="only documents dated on or before YYYY-MM-DD")
    p.add_argument("--json", action="store_true", help="print results as JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    text = " ".join(args.query)
    query = Query(
        text=text,
        k=max(1, args.k),
        kinds=tuple(Kind(k) for k in args.kind or ()),
        services=tuple(args.service or ()),
        severities=tuple(args.severity or ()),
        since=args.since,
        until=args.until,
    )
    docs = search(ctx.store, ctx.embedding, query)
    if ctx.json:
        ctx.print_json(
            [
                {
                    "id": d.record.id,
                    "title": d.record.title,
                    "kind": d.record.kind.value,
                    "score": round(d.score, 4),
                    "services": d.record.services,
                    "severity": d.record.severity,
                    "date": d.record.date.isoformat() if d.record.date else None,
                    "why": d.why,
                    "passages": [
                        {
                            "text": h.chunk.text,
                            "section": h.chunk.section,
                            "start": h.chunk.start,
                            "end": h.chunk.end,
                            "score": round(h.score, 4),
                        }
                        for h in d.hits
                    ],
                }
                for d in docs
            ]
        )
    else:
        print(render.results(docs, text))
    return 0
