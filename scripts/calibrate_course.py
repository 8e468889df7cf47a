"""The margins of kb.runbooks.course, measured on labelled incident courses in our own wording
(tests/course_sets/courses.json: chat logs, timeline bullets, tables and prose, each entry labelled).

For each candidate CLEAR_MARGIN and ACTION_MARGIN (how far behind its best kind an entry's "action" may be) it
prints how many entries read as what they are labelled (made things worse, back to normal, an action) with how
many false calls, and how many courses come out right (the harmful actions, their undo and the fix that
worked). For HARMFUL_SIMILARITY it prints the cosine of each labelled (action that made things worse, runbook
step) pair, same action or not.

    python scripts/calibrate_course.py [--cases tests/course_sets/courses.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from kb.core.enums import MessageKind
from kb.retrieval import cues
from kb.retrieval.meaning import bundled_model
from kb.runbooks import course

ROOT = Path(__file__).resolve().parent.parent
GRID = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5)
BEHIND = (0.0, 0.1, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6)
LABELS = {"made_worse": MessageKind.made_worse, "recovery": MessageKind.recovery}


def _entries(read: list[course.Entry], labels: list[str]) -> dict[str, tuple[int, int, int]]:
    """label -> (right, missed, false) over the labelled entries."""
    out = {}
    for name in ("made_worse", "recovery", "action"):
        said = [e.acts if name == "action" else e.kind == LABELS[name] for e in read]
        want = [label == name for label in labels]
        out[name] = (sum(s and w for s, w in zip(said, want, strict=True)),
                     sum(w and not s for s, w in zip(said, want, strict=True)),
                     sum(s and not w for s, w in zip(said, want, strict=True)))
    return out


def _right(case: dict[str, Any], steps: course.Steps) -> bool:
    harmful = {a for a, _w in steps.harmful}
    return (bool(harmful) == bool(case["harmful"]) and harmful <= set(case["harmful"])
            and set(steps.undone) == set(case["undone"]) and steps.fixes[:1] == [case["fix"]])


def sweep(cases: list[dict[str, Any]]) -> None:
    texts = [[text for _label, text in case["entries"]] for case in cases]
    flat = [t for ts in texts for t in ts]
    readings = iter(cues.read([course._said(t) for t in flat]))
    read_of = [[next(readings) for _ in ts] for ts in texts]
    print("clear  action | made_worse right/missed/false | recovery | action | courses right")
    for clear in GRID:
        for action in BEHIND:
            course.CLEAR_MARGIN, course.ACTION_MARGIN = clear, action
            totals: dict[str, list[int]] = {}
            right = 0
            for case, ts, rs in zip(cases, texts, read_of, strict=True):
                read = [course.entry_of(r, t) for r, t in zip(rs, ts, strict=True)]
                for name, counts in _entries(read, [label for label, _t in case["entries"]]).items():
                    totals[name] = [a + b for a, b in zip(totals.get(name, [0, 0, 0]), counts, strict=True)]
                right += _right(case, course.steps_of(read, ts))
            cells = " | ".join("/".join(map(str, totals[n])) for n in ("made_worse", "recovery", "action"))
            print(f"{clear:5.2f}  {action:5.2f}  | {cells} | {right}/{len(cases)}")


def pairs(rows: list[list[Any]]) -> None:
    model = bundled_model()
    texts = [course._said(a) for a, _s, _same in rows] + [s[:600] for _a, s, _same in rows]
    vectors = model.get_text_embedding_batch(texts)
    n = len(rows)
    sims = [(course.cosine(vectors[i], vectors[n + i]), same) for i, (_a, _s, same) in enumerate(rows)]
    same = sorted(s for s, ok in sims if ok)
    other = sorted(s for s, ok in sims if not ok)
    print("same action:", " ".join(f"{s:.2f}" for s in same))
    print("other steps:", " ".join(f"{s:.2f}" for s in other))
    for cut in (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7):
        print(f"HARMFUL_SIMILARITY {cut:.2f}: same found {sum(s >= cut for s in same)}/{len(same)}, "
              f"others taken {sum(s >= cut for s in other)}/{len(other)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=Path, default=ROOT / "tests" / "course_sets" / "courses.json")
    parser.add_argument("--pairs-only", action="store_true", help="only the HARMFUL_SIMILARITY pairs")
    args = parser.parse_args()
    data = json.loads(args.cases.read_text(encoding="utf-8"))
    if not args.pairs_only:
        sweep(data["courses"])
    pairs(data["pairs"])


if __name__ == "__main__":
    main()
