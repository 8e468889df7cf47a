"""Ingest the moj-cloud-platform set and print what its similar-incidents scorer measures (recall@5, MRR@10,
runbooks that cover an incident found in the first five), running `kb similar` as a user would, no LLM.

    python scripts/eval_similar.py --eval-dir ../shared/eval                   # ingest into a new folder
    python scripts/eval_similar.py --eval-dir ../shared/eval --data-dir DIR    # reuse DIR, ingesting if empty

The postmortems are ingested with --kind postmortem and the runbooks with --kind runbook, as the set's
README says; the scorer is the set's own score_similar.py.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def kb_command(folder: Path) -> Path:
    """An executable that runs this checkout's `kb` (the scorer calls a program, not a module)."""
    path = folder / "kb"
    path.write_text(
        f'#!/bin/sh\nPYTHONPATH="{REPO}" exec "{sys.executable}" -m ui.cli.main "$@"\n', encoding="utf-8"
    )
    path.chmod(0o755)
    return path


def clean_env(data_dir: Path) -> dict[str, str]:
    """The environment without any KB_ or OPENAI_ setting (no LLM), the data directory set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KB_", "OPENAI_"))}
    env["KB_DATA_DIR"] = str(data_dir)
    return env


def ingest(kb: Path, corpus: Path, data_dir: Path) -> None:
    env = clean_env(data_dir)
    for folder, kind in (("postmortems", "postmortem"), ("runbooks", "runbook")):
        print(f"ingesting {corpus / folder} as {kind}", file=sys.stderr, flush=True)
        subprocess.run([str(kb), "ingest", str(corpus / folder), "--kind", kind], env=env, check=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--eval-dir", type=Path, required=True, help="the shared evaluation folder")
    ap.add_argument("--data-dir", type=Path, help="a knowledge base folder to reuse (ingested when missing)")
    ap.add_argument("--out", type=Path, help="where the scorer writes its per-query results")
    args = ap.parse_args()
    moj = args.eval_dir.resolve() / "moj-cloud-platform"
    if not (moj / "score_similar.py").is_file():
        print(f"no moj-cloud-platform set with score_similar.py under {args.eval_dir}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="eval-similar-") as tmp:
        work = Path(tmp)
        data_dir = (args.data_dir or work / "store").resolve()  # "kb" is the command written beside it
        kb = kb_command(work)
        if not (data_dir / "chroma").exists():
            ingest(kb, moj / "corpus", data_dir)
        out = args.out or work / "similar_results.jsonl"
        scorer = [sys.executable, str(moj / "score_similar.py"), "--kb", str(kb), "--data-dir", str(data_dir)]
        done = subprocess.run([*scorer, "--out", str(out)], env=clean_env(data_dir), check=False)
        return done.returncode


if __name__ == "__main__":
    raise SystemExit(main())
