"""What share of real runbooks' text lands in a named section (anything but ``other`` and the text before the
first heading), as the Markdown parser names sections (ingest.sources.markdown.sections_of).

    python scripts/eval_sections.py --eval-dir ../shared/eval [--exact-only] [--json] [--names]

Folders read under the eval dir: moj-cloud-platform/corpus/runbooks and k8s-alert-runbook/corpus. With
--exact-only the model is not used (the deterministic path: example headings word for word). --names prints
the headings left ``other``, most frequent first.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from ingest.sources.markdown import sections_of
from kb.core.enums import SectionName
from kb.text.front_matter import split_front_matter

FOLDERS = ("moj-cloud-platform/corpus/runbooks", "k8s-alert-runbook/corpus")
UNNAMED = {SectionName.other, SectionName.body}


def measure(folder: Path) -> dict[str, object]:
    total = named = docs = 0
    per_name: Counter[str] = Counter()
    unnamed: Counter[str] = Counter()
    for path in sorted(folder.rglob("*.md")):
        text = path.read_text(encoding="utf-8", errors="replace")
        _front, start = split_front_matter(text)
        body = text[start:]
        _title, sections = sections_of(body)
        docs += 1
        total += len(body.strip())
        for section in sections:
            size = len(body[section.start : section.end].strip())
            per_name[section.name] += size
            if section.name in UNNAMED:
                if section.name == SectionName.other:
                    unnamed[section.heading.strip()[:60]] += 1
            else:
                named += size
    return {
        "folder": str(folder),
        "documents": docs,
        "chars": total,
        "named_share": round(named / total, 4) if total else 0.0,
        "per_section": {k: round(v / total, 4) for k, v in per_name.most_common()} if total else {},
        "unnamed_headings": unnamed.most_common(25),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--eval-dir", type=Path, required=True, help="the shared evaluation folder")
    parser.add_argument("--exact-only", action="store_true", help="name sections without the model")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--names", action="store_true", help="print the headings left unnamed")
    args = parser.parse_args(argv)
    if args.exact_only:
        from kb.retrieval import sectioning

        sectioning._classifier = lambda: None  # type: ignore[assignment]  # the path without the model
    results = [measure(args.eval_dir / folder) for folder in FOLDERS if (args.eval_dir / folder).is_dir()]
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for r in results:
        print(f"{r['folder']}: {r['documents']} documents, {r['named_share']:.1%} of the text in a named section")
        if args.names:
            for heading, n in r["unnamed_headings"]:  # type: ignore[attr-defined]
                print(f"  other x{n}: {heading}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
