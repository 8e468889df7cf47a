"""`kb ask` and `kb catchup`: cited answers to on-call questions, and catching up on a running incident."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from ingest.tail import read_chat
from kb.core.enums import Generator
from kb.core.models import Kind
from kb.generation.ask import Answer, Conversation, ask
from kb.generation.catchup import catch_up
from ui.cli.context import Context
from ui.cli.dates import since_date

HELP = """Ask the knowledge base a question; every line of the answer cites its source.

Without an LLM the answer is the sentences that answer best, quoted; with one (KB_LLM_MODEL), the model
answers from those passages and its citations are checked. When nothing stored answers it, it says so
and lists the closest documents.

examples:
  kb ask "how did we fix the last redis failover?"
  kb ask "who owns the payments gateway and how do we page them?" --json
  kb ask --chat                  (follow-up questions: "and what was the root cause?")"""


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("ask", help="ask a question, get a cited answer", description=HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("question", nargs="*", help="the question")
    p.add_argument("--kind", action="append", choices=[k.value for k in Kind], help="only this kind (repeatable)")
    p.add_argument("--service", action="append", help="only documents about this service (repeatable)")
    p.add_argument(
        "--since", type=since_date, help="only documents dated on or after YYYY-MM-DD (or from YYYY-MM, YYYY)"
    )
    p.add_argument("--chat", action="store_true", help="an interactive session with follow-up questions")
    p.add_argument("--json", action="store_true", help="print the answer as JSON")
    p.add_argument("--no-llm", action="store_true", help="answer extractively even when an LLM is configured")
    p.set_defaults(run=run_ask)

    c = sub.add_parser(
        "catchup",
        help="what happened so far in a running incident's chat log",
        description="For someone joining an incident: current status, actions taken, open questions and who is "
        "doing what, each line citing its message. Re-running on a growing log reads only the new part.",
    )
    c.add_argument("chat", help="a transcript file ([YYYY-MM-DD HH:MM:SS] name: message lines)")
    c.add_argument("--since", type=_since, help="only what happened from this time (HH:MM or YYYY-MM-DD HH:MM)")
    c.add_argument("--json", action="store_true", help="print as JSON")
    c.set_defaults(run=run_catchup)


def _show(ctx: Context, answer: Answer) -> None:
    if ctx.json:
        ctx.print_json(answer.as_json())
        return
    if not answer.found:
        print(answer.answer)
        return
    for n, item in enumerate(answer.items, start=1):
        c = item.citations[0]
        text = item.text.replace("\n", "\n   ")
        print(f"{n}. {text}\n   [{c.doc_id}, {c.section}, {c.start}-{c.end}]")
        if item.cautions:
            print(f"   ⚠ CAUTION: {'; '.join(item.cautions)}; check before running.")
    if answer.newest_first:
        print("(the latest matching incidents first, as the question asks)")
    if answer.note:  # an LLM was asked and its reply set aside
        print(f"({answer.note[:-1]}: the passages that answer best, quoted)")
    elif answer.generator == Generator.extractive:
        print("(no LLM used: the passages that answer best, quoted)")
    print(f"sources: {', '.join(answer.sources)}   confidence {answer.confidence:.2f}")


def run_ask(args: argparse.Namespace, ctx: Context) -> int:
    kinds = [Kind(k) for k in args.kind or ()]
    conversation = Conversation()

    def answer_to(question: str) -> Answer:
        llm = None if ctx.no_llm else ctx.kb.llm  # a knowledge base already open (the service's) keeps its LLM
        return ask(ctx.kb, question, conversation, llm=llm, kinds=kinds, services=args.service or (),
                   since=args.since)

    if args.chat:
        print("Ask away (empty line or Ctrl-D to stop).", file=sys.stderr)
        while True:
            if sys.stdin.isatty():
                print("? ", end="", file=sys.stderr, flush=True)
            line = sys.stdin.readline()
            if not line.strip():
                return 0
            _show(ctx, answer_to(line.strip()))
            print()
    question = " ".join(args.question).strip()
    if not question:
        print("kb: give a QUESTION, or --chat", file=sys.stderr)
        return 2
    _show(ctx, answer_to(question))
    return 0


def _since(value: str) -> datetime | str:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        pass
    try:
        datetime.strptime(value, "%H:%M")
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a time (HH:MM or YYYY-MM-DD HH:MM): {value!r}") from None
    return value  # HH:MM: resolved against the log's own day


def run_catchup(args: argparse.Namespace, ctx: Context) -> int:
    chat = read_chat(ctx.settings, Path(args.chat))
    result = catch_up(chat.record, chat.new_messages, since=args.since)
    if ctx.json:
        ctx.print_json(result.as_json())
    else:
        print(result.markdown, end="")
    return 0
