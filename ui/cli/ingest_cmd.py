"""`kb ingest`: add, update and prune documents."""

from __future__ import annotations

import argparse
from pathlib import Path

from kb.core.models import Kind
from kb.core.reports import IngestReport
from ui.cli.context import Context
from ui.cli.progress import progress_bars

HELP = """Ingest postmortems, runbooks and chat logs (Markdown, PDF, plain text, transcripts, Slack exports,
Confluence HTML and storage-format pages, Google Docs HTML, Word .docx, unzipped Notion exports).

PATH may be files or folders (searched recursively; a folder with users.json and channels.json is a
Slack export). Re-running on unchanged files does nothing; changed files replace their old version;
secrets are redacted before anything is stored."""


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "ingest", help="ingest files or folders", description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    p.add_argument("--kind", choices=[k.value for k in Kind], help="treat every file as this kind")
    p.add_argument("--prune", action="store_true", help="remove documents whose files are gone from PATH")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(run=run)


def summary_text(report: IngestReport) -> str:
    lines = [
        f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
        f"removed {report.removed}, failed {len(report.failed)}; "
        f"{report.redacted} secrets redacted; {report.embedded_chunks} chunks embedded, "
        f"{report.reused_embeddings} reused; {report.seconds:.1f}s"
    ]
    for f in report.files:
        if f.redactions and f.status in {"added", "updated"}:
            lines.append(f"  redacted {f.redactions:>2} in {f.path}")
    for failure in report.failed:
        lines.append(f"  FAILED {failure.path}: {failure.error}")
    if report.skipped:
        shown = ", ".join(report.skipped[:5]) + (" ..." if len(report.skipped) > 5 else "")
        lines.append(f"  skipped {len(report.skipped)} file(s) of unsupported types: {shown}")
    return "\n".join(lines)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from ingest.pipeline import Ingestor  # llama-index loads with it: only this command needs it

    ingestor = Ingestor.into(ctx.kb)
    kind = Kind(args.kind) if args.kind else None
    with progress_bars(ctx.interactive) as progress:
        report = ingestor.run(args.paths, kind=kind, prune=args.prune, progress=progress)
    if ctx.json:
        ctx.print_json(report.summary())
    else:
        print(summary_text(report))
    return 1 if report.failed and not (report.added or report.updated or report.unchanged) else 0
