"""`kb search`: find the past incidents and runbooks that fit a symptom or alert text."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kb.core.errors import KBError
from kb.core.models import Kind
from kb.retrieval.alerts import MAX_ALERT_BYTES, AlertQuery, parse_alert
from kb.retrieval.filters import filter_hints
from kb.retrieval.relevance import ONLY_WEAK, only_weak
from kb.retrieval.search import Query, result_json
from kb.retrieval.similar import COVERING
from ui.cli import render
from ui.cli.context import Context
from ui.cli.dates import since_date, until_date

HELP = """Search the knowledge base. Results are documents (postmortems, runbooks, chat logs), best first,
each with the passages that matched and why.

examples:
  kb search "checkout 502 errors after a deploy"
  kb search "too many clients already" --kind postmortem --since 2024-01-01
  kb search "logged out users" --service auth -k 5 --json
  kb search --alert alert.json          (an Alertmanager webhook payload or a Prometheus alert)
  pbpaste | kb search --alert -"""


def _read(path: str) -> str:
    """The file's text, read no further than one byte past the alert size limit."""
    try:
        with Path(path).open("rb") as handle:
            data = handle.read(MAX_ALERT_BYTES + 1)
        # over the limit, a cut character must not hide that: parse_alert refuses it by size
        return data.decode("utf-8", "replace" if len(data) > MAX_ALERT_BYTES else "strict")
    except (OSError, UnicodeDecodeError) as exc:
        raise KBError(f"{path}: cannot read the alert: {exc}") from exc


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from exc
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "search",
        help="search past incidents, runbooks and chats",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("query", nargs="*", help="free text: symptoms, alert text, error messages")
    p.add_argument("--alert", metavar="FILE", help="build the query from an alert (JSON/YAML file, or - for stdin)")
    p.add_argument(
        "--mode",
        choices=["hybrid", "bm25", "dense"],
        default="hybrid",
        help="retrievers to use (default hybrid: keyword and semantic, fused)",
    )
    p.add_argument("-k", type=_positive, default=5, help="how many documents (default 5)")
    p.add_argument("--kind", action="append", choices=[k.value for k in Kind], help="only this kind (repeatable)")
    p.add_argument("--service", action="append", help="only documents about this service (repeatable)")
    p.add_argument("--severity", action="append", help="only this severity, e.g. SEV1 (repeatable)")
    p.add_argument(
        "--since", type=since_date, help="only documents dated on or after YYYY-MM-DD (or from YYYY-MM, YYYY)"
    )
    p.add_argument(
        "--until", type=until_date, help="only documents dated on or before YYYY-MM-DD (or to the end of YYYY-MM, YYYY)"
    )
    p.add_argument("--newest", action="store_true", help="show the k best matches newest first (undated last)")
    p.add_argument("--json", action="store_true", help="print results as JSON")
    p.set_defaults(run=run)


as_json = result_json


def read_alert(arg: str) -> AlertQuery:
    """The alert in file ``arg`` (``-``: stdin)."""
    raw = sys.stdin.read(MAX_ALERT_BYTES + 1) if arg == "-" else _read(arg)
    return parse_alert(raw, "stdin" if arg == "-" else arg)


def run(args: argparse.Namespace, ctx: Context) -> int:
    text = " ".join(args.query)
    if args.alert:
        text = (text + " " + read_alert(args.alert).text).strip()
    if not text:
        raise KBError("nothing to search for: give a QUERY or --alert FILE")
    if args.since and args.until and args.since > args.until:
        raise KBError(f"--since {args.since} is after --until {args.until}: no date can match")
    for hint in filter_hints(ctx.kb.known_values(), args.service or [], args.severity or []):
        print(f"kb: {hint}", file=sys.stderr)
    if args.alert and not ctx.json:
        print(f"query from the alert: {text}\n")
    query = Query(
        text=text,
        k=args.k,
        kinds=tuple(Kind(k) for k in args.kind or ()),
        services=tuple(args.service or ()),
        severities=tuple(args.severity or ()),
        since=args.since,
        until=args.until,
        newest_first=args.newest,
    )
    docs = ctx.kb.measured(text, ctx.kb.search(query, mode=args.mode))  # measured for the match labels
    if not docs and ctx.kb.is_empty():
        print(
            f"kb: the knowledge base at {ctx.settings.store_location} is empty: run `kb ingest PATH` first",
            file=sys.stderr,
        )
    if ctx.json:
        ctx.print_json([as_json(d, labelled=True) for d in docs])
    else:
        if only_weak(docs):
            print(ONLY_WEAK + "\n")
        print(render.results(docs, text, labels=True))
    return 0


def register_similar(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "similar",
        help="past incidents most like a given one",
        description="Past incidents (postmortems and chat logs) most like document ID, from its symptoms, cause "
        "and fix, and the runbooks that cover it (marked 'covering runbook'); the document itself, copies of it "
        "and the other documents of the same incident are left out. With --kind runbook, covering runbooks are "
        "placed second and fourth among the results.",
    )
    p.add_argument("id", help="document id")
    p.add_argument("-k", type=_positive, default=5, help="how many (default 5)")
    p.add_argument(
        "--kind",
        action="append",
        choices=[k.value for k in Kind],
        help="kinds to return (default: postmortem and chat, then the runbooks that cover the incident)",
    )
    p.add_argument("--json", action="store_true", help="print results as JSON")
    p.set_defaults(run=run_similar)


def run_similar(args: argparse.Namespace, ctx: Context) -> int:
    kinds = tuple(Kind(k) for k in args.kind) if args.kind else (Kind.postmortem, Kind.chat)
    docs = ctx.kb.similar(args.id, args.k, kinds, covering=0 if args.kind else COVERING)
    if ctx.json:
        ctx.print_json([{**as_json(d), "relation": d.relation} for d in docs])
    else:
        same = ctx.kb.same_incident(ctx.kb.record(args.id))
        if same:
            print(f"left out, the same incident: {', '.join(same)}\n")
        print(render.similar_results(docs))
    return 0
