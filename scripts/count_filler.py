"""Print how many documents of each corpus ingest marks as filler (redirect stubs, link pages, empty
templates) and how many passages it leaves out as empty, with the documents named, so they can be read.

    python scripts/count_filler.py --eval-dir ../shared/eval [--data data] [--show]

Reads the files as ingest does (parse, then ``ingest.filler``), without storing anything.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ingest import filler  # noqa: E402
from ingest.chunking import chunk_record  # noqa: E402
from ingest.sources import discover, parse_unit  # noqa: E402
from ingest.sources.base import ParseOptions  # noqa: E402
from kb.core.errors import ParseError  # noqa: E402
from kb.core.models import Record  # noqa: E402

CHUNK_WORDS = 150


def corpora(eval_dir: Path | None, data: Path | None) -> list[tuple[str, Path]]:
    found = []
    if eval_dir is not None:
        for folder in sorted(p for p in eval_dir.iterdir() if p.is_dir()):
            inner = [folder / "corpus", folder / "postmortems"]
            found += [(folder.name, p) for p in inner if p.is_dir()][:1]
    if data is not None:
        found.append(("sample corpus (" + data.name + ")", data))
    return found


def read(root: Path) -> list[Record]:
    units, _skipped = discover([root])
    records: list[Record] = []
    for unit in units:
        try:
            records += parse_unit(unit, ParseOptions(redact=False))
        except ParseError:
            continue
    return records


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--eval-dir", type=Path, help="the shared evaluation folder (each set's corpus is read)")
    ap.add_argument("--data", type=Path, default=REPO / "data", help="our sample corpus (default data/)")
    ap.add_argument("--show", action="store_true", help="print each filler document's text too")
    args = ap.parse_args()
    for name, root in corpora(args.eval_dir, args.data):
        records = read(root)
        chunks = [chunk_record(r, CHUNK_WORDS) for r in records]
        kept = filler.sift(records, chunks)
        counts = Counter(r.filler for r in records if r.filler)
        dropped = sum(len(c) - len(k) for c, k in zip(chunks, kept, strict=True))
        total = sum(map(len, chunks))
        marked = ", ".join(f"{label} {n}" for label, n in sorted(counts.items())) or "none"
        print(f"{name}: {len(records)} documents, filler: {marked}; empty passages left out: {dropped}/{total}")
        for record, before, after in zip(records, chunks, kept, strict=True):
            if record.filler:
                where = Path(record.source_path).relative_to(root) if record.source_path else record.id
                print(f"  {record.filler:9s} {where}" + (f" -> {record.redirect}" if record.redirect else ""))
                if args.show:
                    print("    | " + "\n    | ".join(record.text.strip().splitlines()[:12]))
            if args.show:
                for chunk in before:
                    if chunk not in after:
                        print(f"  empty passage of {record.id}: {' '.join(chunk.text.split())[:100]!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
