"""`kb gameday ...`: practice incidents built from real ones: build, list, play, debrief, history."""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

from kb.core.enums import Outcome
from kb.core.errors import KBError, NotFound
from kb.core.models import Scenario
from kb.gameday.master import GameMaster
from kb.gameday.scenario import DIFFICULTIES, build_scenario, shown_sources, spin
from kb.gameday.store import (
    PastSession,
    ScenarioStore,
    averages,
    edit_clue,
    refresh,
    save_session,
    sessions,
    statuses,
)
from ui.cli.context import Context

HELP = """Game days: practise incident response on real past incidents (a "wheel of misfortune").

A scenario is built from a postmortem (and its chat log): a briefing, the page as it fired, clues from
what responders really saw, and an answer key kept from you until the debrief.

examples:
  kb gameday new --from 2024-09-05-checkout-rollback-bad-migration --difficulty hard
  kb gameday new --random --service checkout          (spin the wheel)
  kb gameday list
  kb gameday play gd-2024-09-05-checkout-rollback-bad-migration-hard --as alex
  kb gameday history
  kb gameday show ID --reveal                          (the answer key, for the game master)"""


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    gd = sub.add_parser("gameday", help="practice incidents built from real ones", description=HELP,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    gsub = gd.add_subparsers(dest="gameday_command", metavar="ACTION")
    _add_new(gsub)

    ls = gsub.add_parser("list", help="saved scenarios, marking stale ones",
                         description="Saved scenarios; stale ones changed sources or have new related incidents.")
    ls.add_argument("--json", action="store_true", help="print as JSON")
    ls.set_defaults(run=run_list)

    show = gsub.add_parser("show", help="one scenario", description="Show a scenario (the answer key with --reveal).")
    show.add_argument("id")
    show.add_argument("--reveal", action="store_true", help="include the answer key")
    show.add_argument("--json", action="store_true", help="print as JSON")
    show.set_defaults(run=run_show)

    _add_play(gsub)

    hist = gsub.add_parser("history", help="past sessions and scores",
                           description="Past sessions with their scores, and averages per trainee and service.")
    hist.add_argument("--json", action="store_true", help="print as JSON")
    hist.set_defaults(run=run_history)

    ref = gsub.add_parser("refresh", help="rebuild a stale scenario (keeps its id, edits and history)",
                          description="Rebuild a scenario from its current sources.")
    ref.add_argument("id")
    ref.set_defaults(run=run_refresh)

    _add_edit(gsub)
    gd.set_defaults(run=lambda args, ctx: gd.print_help() or 2)


def _add_new(gsub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    new = gsub.add_parser("new", help="build a scenario from a postmortem (or a random one)",
                          description="Build and save a scenario. Without --from, --random picks an eligible "
                          "postmortem under the filters.")
    new.add_argument("--from", dest="source", metavar="ID", help="the postmortem to build it from")
    new.add_argument("--service", help="only incidents of this service")
    new.add_argument("--severity", help="only incidents of this severity, e.g. SEV2")
    new.add_argument("--difficulty", choices=DIFFICULTIES, default="medium",
                     help="easy shows more up front; hard shows less and adds red herrings (default medium)")
    new.add_argument("--random", action="store_true", help="spin the wheel: a random eligible incident")
    new.add_argument("--seed", type=int, help="seed for --random (repeatable picks)")
    new.add_argument("--reveal", action="store_true", help="include the answer key in --json output")
    new.add_argument("--json", action="store_true", help="print the scenario as JSON")
    new.set_defaults(run=run_new)


def _add_play(gsub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    play = gsub.add_parser("play", help="play a scenario in the terminal",
                           description="An interactive session: ask questions, state hypotheses, take actions; "
                           "`hint` for a hint, `end` to finish. Reads standard input, so it can be scripted.")
    play.add_argument("id")
    play.add_argument("--as", dest="trainee", default="trainee", help="your name, for the history")
    play.add_argument("--turn-limit", type=int, default=30, help="end after this many turns (default 30)")
    play.add_argument("--out", metavar="FILE.md", help="also write the debrief here")
    play.add_argument("--json", action="store_true", help="print the finished session as JSON")
    play.add_argument("--no-llm", action="store_true", help="answer from the evidence only, even with an LLM")
    play.set_defaults(run=run_play)


def _add_edit(gsub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    ed = gsub.add_parser("edit", help="change a clue's wording or trigger",
                         description="Game-master edits to clue N (as `kb gameday show --reveal` numbers them); "
                         "kept across refreshes while the clue still exists.")
    ed.add_argument("id")
    ed.add_argument("--clue", type=int, required=True, help="clue number")
    ed.add_argument("--text", help="new wording")
    ed.add_argument("--keywords", help="comma-separated words that reveal it")
    ed.add_argument("--after-turns", type=int, help="reveal it anyway after this many turns")
    ed.add_argument("--difficulty", choices=DIFFICULTIES, help="rebuild at this difficulty")
    ed.set_defaults(run=run_edit)


def run_new(args: argparse.Namespace, ctx: Context) -> int:
    source = args.source
    if source is None:
        if not args.random:
            raise KBError("give --from ID, or --random to spin the wheel")
        scenario = _spin(ctx, args)
    else:
        scenario = build_scenario(ctx.kb, source, args.difficulty)
    path = ScenarioStore(ctx.settings).save(scenario)
    if ctx.json:
        ctx.print_json(_shown(scenario, args.reveal))
    else:
        named = f" from {source}" if source else ""  # the wheel's pick is not named: its id may name the cause
        print(f"built {scenario.id}{named}: {len(scenario.clues)} clues, {len(scenario.hints)} hints "
              f"({scenario.difficulty}); saved to {path}")
        print(f"play it: kb gameday play {scenario.id} --as NAME")
    return 0


def _spin(ctx: Context, args: argparse.Namespace) -> Scenario:
    pool = ctx.kb.eligible(args.service, args.severity)
    if not pool:
        raise NotFound("no postmortem matches those filters")
    return spin(ctx.kb, pool, args.difficulty, random.Random(args.seed))


def _shown(scenario: Scenario, reveal: bool) -> dict[str, object]:
    """The scenario as --json prints it: what a trainee may see; with --reveal, the answer key and source too."""
    data = scenario.public()
    if reveal:
        data["source_id"] = scenario.source_id
        data["clues"] = [clue.model_dump(mode="json", exclude_none=True) for clue in scenario.clues]
        data["truth"] = scenario.truth.model_dump(mode="json")
    return data


def run_list(args: argparse.Namespace, ctx: Context) -> int:
    rows = statuses(ctx.kb, ScenarioStore(ctx.settings))
    if ctx.json:
        ctx.print_json([r.model_dump() for r in rows])
    elif not rows:
        print("no scenarios yet: kb gameday new --random")
    else:
        for r in rows:
            mark = "  STALE: " + "; ".join(r.why) if r.stale else ""
            print(f"{r.id:60} {r.difficulty:7} {', '.join(r.services)}{mark}")
    return 0


def run_show(args: argparse.Namespace, ctx: Context) -> int:
    scenario = ScenarioStore(ctx.settings).load(args.id)
    if ctx.json:
        ctx.print_json(_shown(scenario, args.reveal))
        return 0
    print(scenario.title)
    print(scenario.briefing)
    print(f"\nPAGE: {scenario.initial_page}\n")
    if args.reveal:
        for n, clue in enumerate(scenario.clues, start=1):
            trig = clue.trigger
            when = ("up front" if trig.up_front else f"on {trig.on_action}" if trig.on_action
                    else f"asked, or after {trig.after_turns} turns" if trig.after_turns else "when asked")
            herring = " [red herring]" if clue.red_herring else ""
            print(f"{n:2}. ({clue.category}, {when}){herring} {clue.text[:160]}")
        print("\nROOT CAUSE:\n" + scenario.truth.root_cause)
        print("\nWHAT FIXED IT: " + scenario.truth.mitigation)
    else:
        print(f"{len(scenario.clues)} clues; the answer key is hidden (--reveal shows it)")
    return 0


def run_play(args: argparse.Namespace, ctx: Context) -> int:
    store = ScenarioStore(ctx.settings)
    scenario = store.load(args.id)
    master = GameMaster(scenario, llm=ctx.kb.llm, turn_limit=max(1, args.turn_limit))
    session = master.start(args.trainee)
    interactive = sys.stdin.isatty()
    out = sys.stderr if ctx.json else sys.stdout
    print(master.opening(session), file=out)
    while session.outcome is None:
        if interactive:
            print("\n> ", end="", file=out, flush=True)
        line = sys.stdin.readline()
        if not line:
            session.outcome = Outcome.gave_up
            break
        if not line.strip():
            continue
        turn = master.play(session, line)
        if not interactive:
            print(f"\n> {line.strip()}", file=out)
        print(turn.answer, file=out)
        if turn.citations:
            print(f"  [source: {shown_sources(turn.citations)}]", file=out)
    master.finish(session)
    save_session(store, session)
    if args.out:
        Path(args.out).write_text(session.debrief or "", encoding="utf-8")
    if ctx.json:
        ctx.print_json(session.model_dump(mode="json"))
    else:
        print("\n" + (session.debrief or ""))
    return 0


def run_history(args: argparse.Namespace, ctx: Context) -> int:
    past = sessions(ScenarioStore(ctx.settings))
    if ctx.json:
        ctx.print_json([PastSession.of(s).model_dump(mode="json") for s in past])
        return 0
    if not past:
        print("no sessions yet: kb gameday play ID")
        return 0
    for s in past:
        print(f"{s.started:%Y-%m-%d %H:%M}  {s.trainee:12} {s.score if s.score is not None else '-':>3}  "
              f"{s.outcome or '-':10} {s.scenario_id}")
    by_trainee, by_service = averages(past)
    print("\naverage score per trainee: " + ", ".join(
        f"{t} {a.score:.0f} ({a.sessions})" for t, a in by_trainee.items()))
    print("average score per service: " + ", ".join(
        f"{t} {a.score:.0f} ({a.sessions})" for t, a in by_service.items()))
    return 0


def run_refresh(args: argparse.Namespace, ctx: Context) -> int:
    scenario = refresh(ctx.kb, ScenarioStore(ctx.settings), args.id)
    print(f"refreshed {scenario.id}: {len(scenario.clues)} clues ({len(scenario.edits)} edits kept)")
    return 0


def run_edit(args: argparse.Namespace, ctx: Context) -> int:
    store = ScenarioStore(ctx.settings)
    if args.difficulty:
        refresh(ctx.kb, store, args.id, difficulty=args.difficulty)
    keywords = [k.strip() for k in args.keywords.split(",")] if args.keywords else None
    scenario = edit_clue(store, args.id, args.clue, text=args.text, keywords=keywords,
                                 after_turns=args.after_turns)
    print(f"edited clue {args.clue} of {scenario.id}")
    return 0
