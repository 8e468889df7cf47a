"""Runbook drafts on another team's documents, run as a user would (`kb ingest`, `kb runbook draft --json`):
for each topic, how many of the draft's sections are filled and what share of its steps come from documents
about the topic's service (a document counts when its id names one of the topic's subjects).

    python scripts/eval_drafts.py --eval-dir ../shared/eval --data-dir /tmp/kb-drafts [--json]

The data directory is ingested once (moj-cloud-platform's runbooks and postmortems) and reused.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: topic -> words of the ids of the documents about it (the measure's labels, not used by the tool)
TOPICS: dict[str, tuple[str, ...]] = {
    "cert-manager certificate errors": ("cert-manager", "cert"),
    "opensearch shard issues and missing logs": ("opensearch",),
    "prometheus out of order timestamps alert": ("prometheus",),
    "elasticache insufficient availability zone capacity": ("elasticache",),
    "external-dns errors updating route53 records": ("external-dns", "route53", "dns"),
}
PHASES = ("overview", "symptoms", "triage", "diagnosis", "mitigation", "verification", "escalation")


REPO = [ROOT]  # the checkout whose `kb` is measured (--repo: another one, for a figure before a change)


def _kb(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KB_", "OPENAI_"))}
    env.update(KB_DATA_DIR=str(data_dir), PYTHONPATH=str(REPO[0]))
    return subprocess.run(
        [sys.executable, "-m", "ui.cli.main", *args], capture_output=True, text=True, env=env, check=False,
        cwd=REPO[0],  # `python -m` puts the working directory first on the path
    )


def measure(data_dir: Path, topic: str, subjects: tuple[str, ...]) -> dict[str, object]:
    done = _kb(data_dir, "runbook", "draft", topic, "--json")
    if done.returncode != 0:
        return {"topic": topic, "error": (done.stderr or done.stdout).strip()[-300:]}
    draft = json.loads(done.stdout)
    items = draft.get("items", [])
    filled = sorted({i["section"] for i in items})
    on_topic = [i for i in items if all(any(s in c["doc_id"] for s in subjects) for c in i["citations"])]
    return {
        "topic": topic,
        "sections_filled": len(filled),
        "sections": filled,
        "steps": len(items),
        "steps_on_topic": len(on_topic),
        "sources": draft.get("sources", []),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--eval-dir", type=Path, required=True, help="the shared evaluation folder")
    parser.add_argument("--data-dir", type=Path, required=True, help="a knowledge base to ingest into (reused)")
    parser.add_argument("--repo", type=Path, help="measure the `kb` of this checkout (default: this one)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.repo:
        REPO[0] = args.repo.resolve()
    corpus = args.eval_dir / "moj-cloud-platform" / "corpus"
    args.data_dir.mkdir(parents=True, exist_ok=True)
    if not (args.data_dir / ".ingested").exists():
        done = _kb(args.data_dir, "ingest", str(corpus))
        if done.returncode != 0:
            print(done.stderr[-2000:], file=sys.stderr)
            return 1
        (args.data_dir / ".ingested").write_text("yes\n")
    results = [measure(args.data_dir, topic, subjects) for topic, subjects in TOPICS.items()]
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for r in results:
        if "error" in r:
            print(f"{r['topic']}: no draft ({r['error']})")
            continue
        print(f"{r['topic']}: {r['sections_filled']}/{len(PHASES)} sections filled {r['sections']}, "
              f"{r['steps_on_topic']}/{r['steps']} steps from documents about it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
