"""First signal and recovery of `kb summarize` on postmortems that quote their chat, against their own timeline.

For each Markdown postmortem given (default: ``EVAL_DIR/k8s-prow-postmortems/postmortems/*.md``) the quoted
chat (``>name [1:26 PM]`` blocks) is summarised offline, as ``kb summarize FILE`` does, and its first signal
and recovery times are printed next to the times read from the postmortem's own Timeline section.

How the reference is read: for the Prow postmortems, by hand from each one's Timeline section (``READ``
below: the entry of the first report or notice that the chat can show, and the entry that says service is
back; where the first report was made outside the chat, as on GitHub at 02:50 on 2019-03-26, the first report
the chat holds). For any other postmortem, the Timeline's timed entries (``[13:26]``, ``[03-26 07:16]``,
``8:27 AM:``) are judged with the cue vocabulary: the first report, then the first recovery after it (marked
"judged": the same classifier as the summary, so weaker evidence). The entries are printed for checking.
A time found within ``--tolerance`` minutes of the reference (by clock time of day: the chat and the
timeline use one time zone) counts as right.

With --llm the summary is drafted through the KB_LLM_* model as `kb summarize` would (first signal and
recovery stay the offline reading: the model writes only the prose sections), and each postmortem says
whether the model's reply was used or set aside, and why.

    python scripts/eval_summaries.py --eval-dir ../shared/eval [--llm] [FILE.md ...]
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from ingest.sources import discover, parse_unit
from ingest.sources.base import ParseOptions
from ingest.sources.quoted_chat import clock
from kb.clients.openai_client import ChatModel
from kb.core.enums import MessageKind
from kb.core.errors import KBError
from kb.core.models import Kind
from kb.core.settings import Settings
from kb.generation.summary import classify, first_signal, recovery_statement, summarize
from kb.retrieval import cues

_TIMELINE = re.compile(r"^#{1,6}\s*timeline\b", re.I | re.M)
_HEADING = re.compile(r"^#{1,6}\s", re.M)
_ENTRY = re.compile(
    r"^\s*(?:[-*+]\s*)?\[?(?:\d\d-\d\d\s+)?(?P<clock>\d{1,2}:\d{2}(?:\s*[AaPp][Mm])?)\]?\s*:?\s*(?P<text>.+)$"
)


def timeline_entries(text: str) -> list[tuple[str, str]]:
    """(HH:MM, entry text) for each timed entry of the Timeline section."""
    found = _TIMELINE.search(text)
    if not found:
        return []
    rest = text[found.end() :]
    end = _HEADING.search(rest)
    out = []
    for line in rest[: end.start() if end else len(rest)].splitlines():
        match = _ENTRY.match(line)
        when = clock(match["clock"]) if match else None
        if match and when is not None:
            out.append((when.strftime("%H:%M"), match["text"].strip()))
    return out


#: read by hand from each postmortem's own Timeline: (first signal, recovery), each (HH:MM, the entry)
READ: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    "prow-2019-02-05.md": (("08:57", "@Katharine notices that some GitHub statuses ... are still present"),
                           ("09:34", "Prow is confirmed to be functional. **Outage ends.**")),
    "prow-2019-02-08.md": (("16:04", "@krzyzacy noticed Prow is responding very slow"),
                           ("17:59", "@krzyzacy cleaned up all wrong pods and prowjobs again, and confirmed Prow is "
                                     "healthy.")),
    "prow-2019-03-26.md": (("06:27", "The outage is reported on Slack again by @liggitt (02:50 on GitHub, not in "
                                     "the chat)"),
                           ("08:10", "@Katharine successfully deploys a fixed Boskos (**outage ends**)")),
    "prow-2019-05-30.md": (("13:26", "@cblecker reports on Slack that something is wrong with Prow"),
                           ("23:55", "@BenTheElder completes the migration to the new node pool")),
}


def reference(text: str) -> tuple[tuple[str, str] | None, tuple[str, str] | None]:
    """(first signal, recovery) judged from the Timeline entries with the cue vocabulary."""
    entries = timeline_entries(text)
    kinds = cues.kinds([t for _, t in entries])
    first = next((n for n, k in enumerate(kinds) if k == MessageKind.report), None)
    if first is None:
        return None, None
    back = next((n for n, k in enumerate(kinds) if k == MessageKind.recovery and n > first), None)
    return entries[first], entries[back] if back is not None else None


def minutes(hhmm: str) -> int:
    hours, mins = hhmm.split(":")
    return int(hours) * 60 + int(mins)


def close(found: str | None, ref: str | None, tolerance: int) -> bool:
    if found is None or ref is None:
        return False
    gap = abs(minutes(found) - minutes(ref))
    return min(gap, 24 * 60 - gap) <= tolerance


def evaluate(path: Path, tolerance: int, llm: ChatModel | None = None) -> tuple[int, int]:
    """Print one postmortem's figures; (right, checked) over first signal and recovery."""
    text = path.read_text(encoding="utf-8")
    how = "read by hand" if path.name in READ else "judged"
    ref_first, ref_back = READ.get(path.name) or reference(text)
    print(f"== {path.name} (reference {how})")
    print(f"   reference first signal: {ref_first[0] + '  ' + ref_first[1][:90] if ref_first else '-'}")
    print(f"   reference recovery:     {ref_back[0] + '  ' + ref_back[1][:90] if ref_back else '-'}")
    units, _ = discover([path])
    options = ParseOptions(redact=True, kind=Kind.chat, known_services=set(), max_bytes=10**8)
    try:
        records = [r for r in parse_unit(units[0], options) if r.messages]
    except KBError as exc:
        records = []
        print(f"   {exc}")
    if not records:
        print("   no quoted chat: nothing to summarise")
        return 0, 0
    record = records[0]
    facts = classify(record)
    first = first_signal(facts)
    back = recovery_statement(facts, first)
    got_first = first.message.ts.strftime("%H:%M") if first and first.message.ts else None
    got_back = back.message.ts.strftime("%H:%M") if back and back.message.ts else None
    for name, got, fact, ref in (("first signal", got_first, first, ref_first),
                                 ("recovery", got_back, back, ref_back)):
        ok = close(got, ref[0] if ref else None, tolerance)
        said = fact.text[:80] if fact else ""
        who = fact.message.author if fact else "-"
        print(f"   found {name + ':':14} {got or '-':5} {'RIGHT' if ok else 'WRONG'}  ({who}: {said})")
    draft = summarize(record, llm=llm)
    if llm is not None:
        print(f"   through {llm.model}: " + (draft.note or f"reply used ({len(draft.dropped)} lines dropped)"))
    for section in ("fault", "recovery"):
        lines = [i.text for i in draft.items if i.section == section][:2]
        print(f"   {section}: " + (" | ".join(t[:90] for t in lines) or "-"))
    checked = int(ref_first is not None) + int(ref_back is not None)
    right = int(close(got_first, ref_first[0] if ref_first else None, tolerance)) + int(
        close(got_back, ref_back[0] if ref_back else None, tolerance))
    return right, checked


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", type=Path, help="postmortems (default: the Prow set in --eval-dir)")
    parser.add_argument("--eval-dir", type=Path, help="folder holding k8s-prow-postmortems/")
    parser.add_argument("--tolerance", type=int, default=10, help="minutes a found time may differ (default 10)")
    parser.add_argument("--llm", action="store_true", help="draft through the KB_LLM_* model, as kb summarize does")
    args = parser.parse_args(argv)
    files = args.files
    if not files:
        if args.eval_dir is None:
            parser.error("give postmortem files or --eval-dir")
        files = sorted((args.eval_dir / "k8s-prow-postmortems" / "postmortems").glob("*.md"))
    llm = None
    if args.llm:
        settings = Settings()
        if not settings.llm_enabled:
            parser.error("--llm: no LLM configured (set KB_LLM_MODEL, KB_LLM_BASE_URL)")
        llm = ChatModel(settings)
    right = checked = 0
    for path in files:
        r, c = evaluate(path, args.tolerance, llm)
        right, checked = right + r, checked + c
    print(f"first signal and recovery within {args.tolerance} min of the timeline: {right}/{checked}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
