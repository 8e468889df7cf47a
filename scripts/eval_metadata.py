"""Print the metadata ingest gives documents: services (how many documents carry each), titles and dates.

Parses every file as `kb ingest` does (the same parsers and the same services step), without embedding or
storing anything, for each folder given:

    python scripts/eval_metadata.py --eval-dir ../shared/eval            # moj corpus and k8s-prow postmortems
    python scripts/eval_metadata.py --folder data --folder other/docs    # any folders

With --eval-dir, the sets read are moj-cloud-platform/corpus/postmortems (as postmortems),
moj-cloud-platform/corpus/runbooks (as runbooks) and k8s-prow-postmortems/postmortems; our own data/ is read
too (its plain text and PDFs are where titles and dates come from the text alone). A document counts as
"dated from its name only" when its file name holds a date and the stored date is missing.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parent.parent
sys.path.append(str(REPO))  # after PYTHONPATH: another checkout can be measured

from ingest.pipeline import Ingestor  # noqa: E402
from ingest.sources import discover, parse_unit  # noqa: E402
from ingest.sources.base import ParseOptions  # noqa: E402
from kb.core.errors import ParseError  # noqa: E402
from kb.core.models import Kind, Record  # noqa: E402

#: a date in a file name: 2024-03-05, 2024_03_05 or 20240305
NAME_DATE = re.compile(r"(?<!\d)(20\d\d)[-_.]?(0[1-9]|1[0-2])[-_.]?(0[1-9]|[12]\d|3[01])(?!\d)")


def parse_folder(folder: Path, kind: Kind | None, known: set[str] | None = None) -> list[Record]:
    """Every record ingest would make of ``folder``, services filled in as the pipeline fills them; ``known``:
    the services already in the store (declared by documents ingested before)."""
    options = ParseOptions(kind=kind, known_services=set(known or ()))
    units, _ = discover([folder])
    records: list[Record] = []
    for unit in units:
        try:
            records.extend(parse_unit(unit, options))
        except ParseError as exc:
            print(f"  (not read: {exc.path}: {exc.reason})", file=sys.stderr)
    fill = getattr(Ingestor, "_fill_services", None)
    if fill is not None:  # documents that name no services, as the pipeline completes them
        fill(None, [SimpleNamespace(records=records)], options)
    return records


def report(name: str, records: list[Record], show: int) -> dict[str, int]:
    """Print the figures of one set; return them."""
    per_service = Counter(s for r in records for s in dict.fromkeys(x.lower() for x in r.services))
    with_services = sum(bool(r.services) for r in records)
    stem_titles = sum(r.title == Path(r.source_path).stem and bool(re.search(r"[-_.]", r.title)) for r in records)
    long_titles = [r for r in records if len(r.title) > 90]
    dated = sum(r.date is not None for r in records)
    named = [r for r in records if NAME_DATE.search(Path(r.source_path).name)]
    undated_named = sum(r.date is None for r in named)
    figures = {
        "documents": len(records),
        "with services": with_services,
        "distinct services": len(per_service),
        "most common service's documents": per_service.most_common(1)[0][1] if per_service else 0,
        "titles = raw file name (a-b_c)": stem_titles,
        "titles over 90 chars": len(long_titles),
        "dated": dated,
        "date in file name but none stored": undated_named,
    }
    print(f"\n== {name}")
    for key, value in figures.items():
        print(f"  {key:34s} {value}")
    top = ", ".join(f"{s} {n}" for s, n in per_service.most_common(show))
    print(f"  services by documents: {top or '-'}")
    for rec in sorted(records, key=lambda r: r.source_path):
        if rec.format in {"text", "pdf"} or len(rec.title) > 90:
            print(f"  [{rec.format}] {Path(rec.source_path).name}: title={rec.title[:100]!r} date={rec.date}")
    return figures


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--eval-dir", type=Path, help="the shared evaluation folder (moj, k8s-prow)")
    ap.add_argument("--folder", type=Path, action="append", default=[], help="another folder to read")
    ap.add_argument("--data-dir", type=Path, default=REPO / "data", help="our sample corpus (default data/)")
    ap.add_argument("--show", type=int, default=12, help="services listed per set")
    args = ap.parse_args()
    sets: list[tuple[str, Path, Kind | None]] = []
    if args.eval_dir:
        moj = args.eval_dir / "moj-cloud-platform" / "corpus"
        sets += [
            ("moj postmortems", moj / "postmortems", Kind.postmortem),
            ("moj runbooks", moj / "runbooks", Kind.runbook),
            ("k8s-prow postmortems", args.eval_dir / "k8s-prow-postmortems" / "postmortems", None),
            ("k8s-alert-runbook corpus", args.eval_dir / "k8s-alert-runbook" / "corpus", Kind.runbook),
        ]
    sets += [(str(f), f, None) for f in args.folder]
    sets.append(("data (our sample corpus)", args.data_dir, None))
    for name, folder, kind in sets:
        if not folder.is_dir():
            print(f"no folder {folder}", file=sys.stderr)
            return 2
        report(name, parse_folder(folder, kind), args.show)
    # one knowledge base holding our sample corpus and then another team's documents: the services the first
    # declared must not be stamped on the second's texts that merely use the word
    known = {s for r in parse_folder(args.data_dir, None) for s in r.services}
    for name, folder, kind in sets[:-1]:
        label = f"{name}, ingested after data/ ({len(known)} known services)"
        report(label, parse_folder(folder, kind, known), args.show)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
