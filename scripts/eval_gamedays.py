"""Game days from any postmortem: build one from each postmortem in a folder and check the properties a fair
scenario must have, no LLM (--llm: the game master phrases its answers through the KB_LLM_* model).

For each postmortem it prints:
- page: the time of the initial page the trainee gets, next to the first report a reader names (reference)
  and the first timed timeline entry;
- post-fix shown: how many things shown before the debrief (page, clues, answers to "what do the dashboards
  say?", "what changed recently?", "what changed in the last hour?", "show me the logs") come from the fix
  or after it (reference: where the fix begins);
- cause words: words of the root cause (not in the impact, detection or first report) in the scenario id,
  title, services or briefing;
- rubric fix: the mitigation items of the rubric (0 means the debrief says the fix was not recorded);
- paraphrase: the score of a session whose only move is the fix said in other words (should be > 0), and
  whether actions that were not the fix were wrongly accepted;
- refused: whether the postmortem was refused, and why.

    python scripts/eval_gamedays.py FOLDER [--data-dir DIR] [--reference scripts/gameday_reference.json]

FOLDER is ingested into a temporary data dir (or the given --data-dir, reused when it already holds it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from kb.core.errors import KBError
from kb.core.models import Kind, Record
from kb.core.settings import Settings
from kb.gameday.master import GameMaster
from kb.gameday.scenario import build_scenario
from kb.knowledge import open_kb
from kb.text.steps import terms_of

QUESTIONS = ("what do the dashboards say?", "what changed recently?", "what changed in the last hour?",
             "show me the logs")
BOILERPLATE = terms_of("You are the on-call engineer for the affected services It is just been paged something "
                       "has reported Work incident as you would for real Game day SEV1 SEV2 SEV3 Monday Tuesday "
                       "Wednesday Thursday Friday Saturday Sunday working undated")


def _section(record: Record, *names: str) -> str:
    return "\n".join(record.text[s.start : s.end] for s in record.sections if s.name in names)


def _post_fix(record: Record, ref: dict, chat: Record | None):  # type: ignore[no-untyped-def]
    """A predicate: does a citation point at the fix or after it?"""
    quote = ref.get("fix_quote")
    at = record.text.find(quote) if quote else -1
    at = record.text.rfind("\n", 0, at) + 1 if at >= 0 else -1  # the start of the fix's own entry
    chat_at = dt.datetime.fromisoformat(ref["fix_chat"]) if ref.get("fix_chat") else None

    def after(c) -> bool:  # type: ignore[no-untyped-def]
        if c.doc_id == record.id and at >= 0 and c.section == "timeline":
            return c.end > at
        if chat is not None and c.doc_id == chat.id and chat_at is not None:
            return any(m.ts is not None and m.ts.replace(tzinfo=None) >= chat_at and m.start <= c.start < m.end + 1
                       for m in chat.messages)
        return False

    return after


def _first_timed(record: Record) -> str:
    for line in _section(record, "timeline").splitlines():
        m = re.match(r"^\s*[-*]\s*\[?(?:\d{1,2}-\d{1,2}\s+)?(\d{1,2}:\d{2})\s*([AP]M)?", line)
        if m:
            return m.group(1) + (" " + m.group(2) if m.group(2) else "")
    return "-"


def _page_time(text: str) -> str:
    m = re.search(r"(\d{1,2}):(\d{2})\s*([AaPp][Mm])?", text)
    if not m:
        return "-"
    hour = int(m.group(1)) + (12 if m.group(3) and m.group(3).lower() == "pm" and int(m.group(1)) < 12 else 0)
    return f"{hour:02d}:{m.group(2)}"


def _play(scenario, moves: list[str], llm=None):  # type: ignore[no-untyped-def]
    master = GameMaster(scenario, llm=llm)
    session = master.start("eval", now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    turns = []
    for move in moves:
        if session.outcome is not None:
            break
        turns.append(master.play(session, move))
    master.finish(session)
    return session, turns


def check(kb, rid: str, ref: dict, llm=None) -> dict:  # type: ignore[no-untyped-def]
    record = kb.record(rid)
    row: dict = {"id": rid, "first_timed": _first_timed(record), "first_report": ref.get("first_report", "-")}
    try:
        scenario = build_scenario(kb, rid, "medium")
    except KBError as exc:
        row["refused"] = str(exc)
        return row
    chat = kb.record(scenario.chat_id) if scenario.chat_id else None
    post_fix = _post_fix(record, ref, chat)
    row["page"] = _page_time(scenario.initial_page)
    shown = [("page", c) for c in scenario.initial_citations]
    shown += [("clue", c) for clue in scenario.clues if not clue.red_herring for c in clue.citations]
    for q in QUESTIONS:
        _s, turns = _play(scenario, [q], llm)
        shown += [(q, c) for t in turns for c in t.citations]
    leaked = sorted({what for what, c in shown if post_fix(c)})
    row["post_fix_shown"] = leaked if ref.get("fix_quote") else "-"
    cause = terms_of(_section(record, "root_cause")) - terms_of(
        _section(record, "impact", "detection") + " " + scenario.initial_page) - BOILERPLATE
    cause = {w for w in cause if len(w) >= 3 and not w.isdigit()}
    briefing_head = scenario.briefing.split("\n", 1)[0]
    named = terms_of(" ".join([scenario.id.replace("-", " "), scenario.title, *scenario.services, briefing_head]))
    row["cause_words"] = sorted(named & cause)
    fixes = [i for i in scenario.truth.rubric if i.kind == "mitigation"]
    row["rubric_fix"] = len(fixes)
    row["fix_text"] = fixes[0].text[:70] if fixes else ""
    if ref.get("paraphrase"):
        session, _turns = _play(scenario, [ref["paraphrase"], "end"], llm)
        row["paraphrase_score"] = session.score
    if ref.get("not_fix"):
        row["wrongly_accepted"] = [w for w in ref["not_fix"]
                                   if _play(scenario, [w, "end"], llm)[0].outcome == "mitigated"]
    marker = ref.get("not_communication")
    if marker:
        row["log_line_as_communication"] = any(i.kind == "communication" and marker in i.text
                                               for i in scenario.truth.rubric)
    return row


def _ingest(folder: Path, data_dir: Path) -> None:
    subprocess.run([sys.executable, "-m", "ui.cli.main", "--data-dir", str(data_dir), "ingest", str(folder)],
                   check=True, capture_output=True)


def _print(rows: list[dict]) -> None:
    print("| postmortem | page (report / first timed) | post-fix shown | cause words in id/briefing | rubric fix "
          "| paraphrase score | wrong fix accepted | refused |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        if "refused" in r:
            print(f"| {r['id']} | - / {r['first_timed']} | - | - | - | - | - | {r['refused'][:90]} |")
            continue
        post = r["post_fix_shown"]
        post = "-" if post == "-" else (", ".join(post) or "none")
        wrong = ", ".join(r["wrongly_accepted"]) or "none" if "wrongly_accepted" in r else "-"
        comm = " (log line as communication)" if r.get("log_line_as_communication") else ""
        print(f"| {r['id']} | {r['page']} ({r['first_report']} / {r['first_timed']}) | {post} | "
              f"{', '.join(r['cause_words']) or 'none'} | {r['rubric_fix']} | {r.get('paraphrase_score', '-')} | "
              f"{wrong}{comm} | no |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, nargs="?", help="a folder of postmortems (and chat logs) to ingest")
    parser.add_argument("--data-dir", type=Path, help="use this data dir (ingested once, then reused)")
    parser.add_argument("--reference", type=Path, default=Path(__file__).with_name("gameday_reference.json"))
    parser.add_argument("--only", nargs="*", help="only these postmortem ids")
    parser.add_argument("--llm", action="store_true", help="the game master phrases its answers through the "
                        "KB_LLM_* model (scenarios, clues and scoring are built without it either way)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--calibrate", action="store_true",
                        help="print the fix-recognition threshold calibrated on kb/gameday/paraphrases.tsv")
    args = parser.parse_args(argv)
    if args.calibrate:
        from kb.gameday.cues import SAME_ACTION, calibrate

        cut, right, pairs = calibrate()
        print(f"calibrated threshold {cut:.2f} ({right:.1%} of {pairs} labelled pairs right); in use: {SAME_ACTION}")
    if args.folder is None and args.data_dir is None:
        return 0 if args.calibrate else parser.error("give a FOLDER or --data-dir")
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="kb-gameday-eval-"))
    if args.folder is not None and not (data_dir / "chroma").exists():
        _ingest(args.folder, data_dir)
    reference = json.loads(args.reference.read_text()) if args.reference.exists() else {}
    kb = open_kb(Settings(data_dir=data_dir), llm=args.llm)
    if args.llm and kb.llm is None:
        parser.error("--llm: no LLM configured (set KB_LLM_MODEL, KB_LLM_BASE_URL)")
    ids = [rid for rid, meta in sorted(kb.record_metas().items()) if meta.kind == Kind.postmortem]
    rows = [check(kb, rid, reference.get(rid, {}), kb.llm) for rid in ids if not args.only or rid in args.only]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        _print(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
