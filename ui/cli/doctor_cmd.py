"""`kb doctor`: check a store's invariants (and its keyword index) and repair what can be repaired."""

from __future__ import annotations

import argparse

from ui.cli.context import Context


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "doctor",
        help="check the store and repair it",
        description="Check that every chunk belongs to a stored record's current version, that every record has "
        "all its chunks exactly once, and that the keyword index matches the store. --repair deletes orphan "
        "chunks, removes incomplete records (naming the files to ingest again) and rebuilds the keyword index. "
        "Exit code 1 when problems remain.",
    )
    p.add_argument("--repair", action="store_true", help="fix what can be fixed")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    report = ctx.kb.check(repair=args.repair)
    if ctx.json:
        ctx.print_json(report.as_json())
    else:
        print(f"{report.records} documents, {report.chunks} chunks")
        if not report.problems:
            print("healthy: no orphan chunks, every document complete, keyword index current")
        for p in report.problems:
            state = "repaired" if p.repaired else "found"
            print(f"  {state}: {p.kind}: {p.subject}: {p.detail}")
        for path in report.reingest:
            print(f"  ingest again: {path}")
        if report.problems and not args.repair:
            print("run `kb doctor --repair` to fix them")
    return 0 if report.healthy else 1
