"""`kb runbook ...` and `kb summarize`: cited drafts, update proposals, approved revisions, summaries."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ingest.chatfiles import read_chats
from kb.core.drafts import Draft
from kb.core.enums import Generator
from kb.core.errors import KBError, NotFound
from kb.core.models import Record
from kb.generation.summary import summarize
from kb.runbooks.draft import draft_runbook
from kb.runbooks.revisions import history
from kb.runbooks.stale import stale_runbooks
from kb.runbooks.update import propose_update
from ui.cli.context import Context
from ui.cli.dates import since_date
from ui.cli.search_cmd import read_alert

RUNBOOK_HELP = """Runbooks from what actually worked: drafts, updates from recent incidents, approved revisions.

Every step cites the passage it comes from. Without an LLM (KB_LLM_MODEL unset) drafts are assembled
from the sources' own steps; with one, the model writes them and each citation is checked.
Nothing changes a runbook until you run `kb runbook apply` on a proposal: it writes the runbook's stored
text plus the proposal's diff, nothing else, and only proposals saved in the data directory are applied.

examples:
  kb runbook draft "pgbouncer pool exhausted" --out pgbouncer.md
  kb runbook draft --alert alert.json --service checkout
  kb runbook stale
  kb runbook update pgbouncer-pool-exhausted          (prints a cited diff, saves a proposal, prints its id)
  kb runbook apply PROPOSAL_ID                        (writes the new revision and re-indexes it)
  kb runbook history pgbouncer-pool-exhausted"""


def _llm_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-llm", action="store_true", help="use the extractive path even when an LLM is configured")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    rb = sub.add_parser(
        "runbook", help="draft, update and version runbooks", description=RUNBOOK_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rsub = rb.add_subparsers(dest="runbook_command", metavar="ACTION")
    for add in (_add_draft, _add_update, _add_apply, _add_history, _add_stale):
        add(rsub)
    rb.set_defaults(run=lambda args, ctx: rb.print_help() or 2)
    _add_summarize(sub)


def _add_draft(rsub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    d = rsub.add_parser("draft", help="draft a runbook for a topic or an alert", description="Draft a cited runbook.")
    d.add_argument("topic", nargs="*", help="what the runbook is for: symptoms, alert, failure mode")
    d.add_argument("--alert", metavar="FILE", help="draft it for this alert (JSON/YAML file, or - for stdin)")
    d.add_argument("--service", help="only draw from documents about this service")
    d.add_argument("--out", metavar="FILE.md", help="write the Markdown here instead of printing it")
    d.add_argument("--json", action="store_true", help="print the draft, items and citations as JSON")
    _llm_flag(d)
    d.set_defaults(run=run_draft)


def _add_update(rsub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    u = rsub.add_parser(
        "update",
        help="propose changes from incidents since the last revision",
        description="Compare what responders did in incidents since the runbook's last revision with what it "
        "says, and propose the missing steps as a cited unified diff. The proposal is saved; nothing "
        "changes until `kb runbook apply`.",
    )
    u.add_argument("id", help="runbook id")
    u.add_argument("--since", type=since_date, help="consider incidents from this date (default: the last revision)")
    u.add_argument("--json", action="store_true", help="print the diff, hunks and citations as JSON")
    _llm_flag(u)
    u.set_defaults(run=run_update)


def _add_apply(rsub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    a = rsub.add_parser(
        "apply",
        help="approve a proposal: write the new revision and re-index it",
        description="Write the runbook's stored text plus the proposal's diff as a new revision (the previous "
        "one is kept) and re-index it. The proposal must be one `kb runbook update` saved in the data directory's "
        "proposal store; it is refused when its stored new text is not exactly base + diff, when the diff does "
        "not apply cleanly, or when the runbook changed since.",
    )
    a.add_argument(
        "proposal",
        help="the proposal id `kb runbook update` printed; a path is accepted only when it is a file in the "
        "data directory's proposals/ folder",
    )
    a.add_argument("--json", action="store_true", help="print the result as JSON")
    a.set_defaults(run=run_apply)


def _add_history(rsub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    h = rsub.add_parser("history", help="revisions of a runbook", description="Saved revisions, oldest first.")
    h.add_argument("id", help="runbook id")
    h.add_argument("--json", action="store_true", help="print as JSON")
    h.set_defaults(run=run_history)


def _add_stale(rsub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    s = rsub.add_parser(
        "stale",
        help="runbooks with incidents since they last changed",
        description="Runbooks whose services or alerts had incidents since the runbook last changed, most stale "
        "first.",
    )
    s.add_argument("--json", action="store_true", help="print as JSON")
    s.set_defaults(run=run_stale)


def _add_summarize(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    sm = sub.add_parser(
        "summarize",
        help="postmortem draft from a chat log",
        description="A postmortem draft (summary, leadup, fault, impact, detection, response, recovery, "
        "timeline, action items) from an incident chat log, every line citing its messages. CHAT is a "
        "stored chat log's id or a file / Slack export folder (read, not stored).",
    )
    sm.add_argument("chat", help="chat log id, or a path to a transcript file or Slack export")
    sm.add_argument("--channel", help="for a Slack export with several channels: which one")
    sm.add_argument("--out", metavar="FILE.md", help="write the Markdown here instead of printing it")
    sm.add_argument("--json", action="store_true", help="print the summary, items and citations as JSON")
    _llm_flag(sm)
    sm.set_defaults(run=run_summarize)


class _Stream:
    """Shows that an LLM is writing (characters so far) on an interactive terminal."""

    def __init__(self, ctx: Context) -> None:
        self.on = ctx.interactive and ctx.kb.llm is not None
        self.count = 0

    def __call__(self, text: str) -> None:
        self.count += len(text)
        if self.on:
            print(f"\r  writing... {self.count} characters", end="", file=sys.stderr, flush=True)

    def done(self) -> None:
        if self.on and self.count:
            print(file=sys.stderr)


def _emit(ctx: Context, draft: Draft, out: str | None) -> int:
    if ctx.json:
        ctx.print_json(draft.as_json())
    elif out:
        Path(out).write_text(draft.markdown, encoding="utf-8")
        print(f"wrote {out} ({len(draft.items)} cited lines from {len(draft.sources)} documents)", file=sys.stderr)
    else:
        print(draft.markdown, end="")
    if draft.dropped:
        print(f"kb: {len(draft.dropped)} ungrounded lines were dropped (listed in the output)", file=sys.stderr)
    if draft.note and not ctx.json:
        print(f"kb: {draft.note}", file=sys.stderr)
    elif draft.generator == Generator.extractive and not ctx.json:
        print("kb: no LLM used (extractive draft)", file=sys.stderr)
    return 0


def run_draft(args: argparse.Namespace, ctx: Context) -> int:
    topic = " ".join(args.topic).strip() or None
    alert = read_alert(args.alert) if args.alert else None
    if not topic and alert is None:
        raise KBError("give a TOPIC or --alert FILE")
    stream = _Stream(ctx)
    draft = draft_runbook(
        ctx.kb, topic, alert=alert, service=args.service, llm=ctx.kb.llm, on_text=stream
    )
    stream.done()
    return _emit(ctx, draft, args.out)


def run_update(args: argparse.Namespace, ctx: Context) -> int:
    proposal = propose_update(ctx.settings, ctx.kb, args.id, since=args.since, llm=ctx.kb.llm)
    if proposal.note and not ctx.json:
        print(f"kb: {proposal.note}", file=sys.stderr)
    if ctx.json:
        ctx.print_json(proposal.as_json())
        return 0
    if not proposal.diff:
        since = proposal.since.isoformat() if proposal.since else "ever"
        print(f"{args.id}: nothing to propose: no steps from incidents since {since} that it lacks")
        return 0
    print(proposal.diff, end="")
    print()
    print("Why each change:")
    for n, item in enumerate(proposal.items, start=1):
        sources = "; ".join(f"{c.doc_id} {c.section} {c.start}-{c.end}" for c in item.citations)
        print(f"  {n}. [{item.section}] {item.text.splitlines()[0][:90]}  <- {sources}")
        if item.cautions:
            print(f"     ⚠ CAUTION: {'; '.join(item.cautions)}; check before running.")
    print()
    print(f"proposal saved: {proposal.id} ({proposal.path})")
    print(f"approve with:   kb runbook apply {proposal.id}")
    return 0


def run_apply(args: argparse.Namespace, ctx: Context) -> int:
    from ingest.revisions import apply_proposal  # the ingestion pipeline loads with it

    applied = apply_proposal(ctx.kb, args.proposal)
    if ctx.json:
        ctx.print_json(applied.model_dump(mode="json"))
    else:
        print(f"{applied.runbook_id}: revision {applied.revision.number} written to {applied.path} and indexed")
    return 0


def run_history(args: argparse.Namespace, ctx: Context) -> int:
    record = ctx.kb.record(args.id)
    revisions = history(ctx.settings, args.id)
    if ctx.json:
        ctx.print_json([r.model_dump(mode="json") for r in revisions])
        return 0
    if not revisions:
        print(f"{args.id}: no revisions saved here; the current text is from {record.source_path}")
        return 0
    for r in revisions:
        print(f"r{r.number}  {r.created:%Y-%m-%d %H:%M}  {r.path}  {r.note}")
    return 0


def run_stale(args: argparse.Namespace, ctx: Context) -> int:
    stale = stale_runbooks(ctx.kb)
    if ctx.json:
        ctx.print_json([s.model_dump(mode="json") for s in stale])
        return 0
    if not stale:
        print("no stale runbooks: none has incidents about its services since it last changed")
        return 0
    print(f"{'runbook':34} {'last changed':12} {'incidents':>9}  newest incident")
    for s in stale:
        changed = s.last_changed.isoformat() if s.last_changed else "-"
        print(f"{s.runbook_id[:34]:34} {changed:12} {s.incidents:>9}  {s.newest_date} {s.newest_incident}")
    return 0


def _chat_from_path(ctx: Context, path: Path, channel: str | None) -> Record:
    records, failed = read_chats(path, ctx.settings)
    for exc in failed:
        print(f"kb: skipped {exc}", file=sys.stderr)
    if channel:
        records = [r for r in records if r.source_key.endswith("#" + channel.lstrip("#"))]
    if not records:
        raise NotFound(f"{path}: no chat messages found" + (f" in channel {channel}" if channel else ""))
    if len(records) > 1:
        names = ", ".join(r.source_key.rsplit("#", 1)[-1] for r in records)
        print(f"kb: {path} has {len(records)} channels ({names}); summarising the longest (use --channel)",
              file=sys.stderr)
    return records[0]


def run_summarize(args: argparse.Namespace, ctx: Context) -> int:
    path = Path(args.chat).expanduser()
    if not path.exists() and ("/" in args.chat or path.suffix in (".txt", ".json", ".md", ".log", ".zip")):
        raise NotFound(f"{args.chat}: no such file or folder (give a chat log's path or a stored chat id)")
    record = _chat_from_path(ctx, path, args.channel) if path.exists() else ctx.kb.record(args.chat)
    stream = _Stream(ctx)
    draft = summarize(record, llm=ctx.kb.llm, on_text=stream)
    stream.done()
    return _emit(ctx, draft, args.out)
