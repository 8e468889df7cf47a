"""Accuracy of each meaning classifier on its held-out split (kb/retrieval/meaning.py).

Every folder under kb/retrieval/examples/ is a task (section types, message and step kinds, ...). One
example in five is held out; a classifier built from the rest labels them with the bundled embedding model.

    python scripts/label_accuracy.py [TASK ...] [--json] [--misses]

A task may also have a check set written apart from its examples, by someone who had not read them
(scripts/checks/TASK.jsonl, lines of {"text", "label"}): the classifier built from all the examples labels
it, a measure no example was chosen to fit.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from kb.retrieval import sectioning
from kb.retrieval.meaning import EXAMPLES_DIR, accuracy, classifier

CHECKS = Path(__file__).resolve().parent / "checks"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tasks", nargs="*", help="tasks to measure (default: every folder of examples)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--misses", action="store_true", help="list each held-out example that was mislabelled")
    args = parser.parse_args(argv)
    tasks = args.tasks or sorted(p.name for p in EXAMPLES_DIR.iterdir() if p.is_dir())
    # a task may read texts through its own view of the model (sections weigh the heading over the body)
    results = [accuracy(task, sectioning.section_model() if task == sectioning.TASK else None) for task in tasks]
    if args.json:
        print(json.dumps([{"task": r.task, "train": r.train, "tested": r.tested, "correct": r.correct,
                           "accuracy": round(r.ratio, 4), "per_label": r.per_label} for r in results], indent=2))
        return 0
    for r in results:
        print(f"{r.task}: {r.correct}/{r.tested} held-out examples right ({r.ratio:.1%}), trained on {r.train}")
        check = CHECKS / f"{r.task}.jsonl"
        if check.exists():
            rows = [json.loads(line) for line in check.read_text().splitlines() if line.strip()]
            got = classifier(r.task).classify([row["text"] for row in rows])
            right = sum(1 for row, verdict in zip(rows, got, strict=True) if verdict.label == row["label"])
            print(f"  check set {check.name}: {right}/{len(rows)} right ({right / len(rows):.1%})")
        for label, (ok, n) in sorted(r.per_label.items()):
            print(f"  {label:<24} {ok:>4}/{n:<4}")
        if args.misses:
            for example, expected, got in r.confusions:
                print(f"  miss: {expected} -> {got}: {example[:100]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
