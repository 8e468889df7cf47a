"""Measure `kb ask` on a shared question set (a folder with corpus/postmortems, corpus/runbooks, ask.jsonl and
score_ask.py, such as moj-cloud-platform): ingest the corpus (or reuse an ingested data dir), run the set's
own scorer and print its figures.

    python scripts/eval_ask.py --eval-dir DIR [--data-dir KB_DATA_DIR] [--fast] [--only ID ...] [--show]

Without --data-dir the corpus is ingested into a new temporary folder (postmortems with --kind postmortem,
runbooks with --kind runbook). The default runs the set's score_ask.py, which starts `kb ask QUESTION --json`
once per question (the tool as a user runs it). --fast opens the knowledge base once and asks every question in
this process, scored by the same function of score_ask.py (the figures are the same, in a fraction of the
time); --ask FILE asks another set of questions about the same corpus (scored by the same rules, e.g.
tests/ask_sets/k8s-alert-runbook.jsonl with --eval-dir pointing at that corpus); --show prints each answer.
No LLM is used (KB_* and OPENAI_* settings are ignored), unless --llm (with --fast) keeps the KB_LLM_*
settings: each answer then goes through that model, and the figures end with how many replies were used and
how many were set aside (not JSON for the schema, or nothing grounded) for the quoted answer.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _clean_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KB_", "OPENAI_"))}
    env["KB_DATA_DIR"] = str(data_dir)
    env["PYTHONPATH"] = str(ROOT)
    return env


def _kb_command(folder: Path) -> Path:
    """A small `kb` executable running this checkout (the scorer takes a path to one)."""
    path = folder / "kb"
    path.write_text(f'#!/bin/sh\nPYTHONPATH="{ROOT}" exec "{sys.executable}" -m ui.cli.main "$@"\n')
    path.chmod(0o755)
    return path


def ingest(eval_dir: Path, data_dir: Path, kb: Path) -> None:
    for folder, kind in (("postmortems", "postmortem"), ("runbooks", "runbook")):
        corpus = eval_dir / "corpus" / folder
        if corpus.is_dir():
            subprocess.run([str(kb), "ingest", str(corpus), "--kind", kind], env=_clean_env(data_dir), check=True)


class _OwnScorer:
    """The scoring rules of the shared score_ask.py, for a question set that has none: an answerable question is
    right when found, its document cited and every answer term in the answer; an unanswerable one when refused."""

    @staticmethod
    def score(q: dict[str, Any], out: dict[str, Any]) -> dict[str, Any]:
        found = bool(out.get("found"))
        cited = list(dict.fromkeys(c["doc_id"] for i in out.get("items") or [] for c in i.get("citations") or []))
        r: dict[str, Any] = {"id": q["id"], "found": found, "cited": cited}
        if q["doc"] is None:
            r["correct"] = not found
            return r
        want = re.sub(r"[^a-z0-9]+", "-", Path(q["doc"]).stem.lower()).strip("-")
        missing = [t for t in q["answer_terms"] if t.lower() not in (out.get("answer") or "").lower()]
        r.update(expected=want, right_doc_any=want in cited, missing_terms=missing, right_doc=found and want in cited,
                 terms=found and not missing)
        r["correct"] = r["right_doc"] and r["terms"]
        return r


def _scorer(eval_dir: Path) -> Any:
    if not (eval_dir / "score_ask.py").exists():
        return _OwnScorer
    spec = importlib.util.spec_from_file_location("score_ask", eval_dir / "score_ask.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fast(eval_dir: Path, data_dir: Path, only: list[str], show: bool, ask_file: Path | None, llm: bool) -> None:
    """Every question asked in this process, scored by the set's own scoring function (or the same rules)."""
    from kb.core.settings import Settings
    from kb.generation.ask import ask
    from kb.knowledge import open_kb

    scorer = _scorer(eval_dir)
    source = ask_file or eval_dir / "ask.jsonl"
    questions = [json.loads(line) for line in source.read_text().splitlines() if line.strip()]
    questions = [q for q in questions if not only or q["id"] in only]
    kb = open_kb(Settings(data_dir=data_dir, _env_file=None), llm=llm)  # type: ignore[call-arg]
    if llm and kb.llm is None:
        raise SystemExit("--llm: no LLM configured (set KB_LLM_MODEL, KB_LLM_BASE_URL)")
    results, used, set_aside = [], 0, 0
    for q in questions:
        answer = ask(kb, q["question"], llm=kb.llm)
        used += answer.generator == "llm"
        set_aside += answer.note is not None
        r = scorer.score(q, answer.as_json())
        results.append(r)
        verdict = "OK  " if r["correct"] else "FAIL"
        extra = "" if q["doc"] is None else f" right_doc={r['right_doc_any']} missing={r['missing_terms']}"
        print(f"{q['id']:5s} {verdict} {q['type']:12s} found={r['found']} conf={answer.confidence:.2f}{extra} "
              f"cited={r['cited'][:3]}", flush=True)
        if show:
            print("      Q: " + q["question"] + "\n      " + answer.answer.replace("\n", "\n      "))
    answerable = [r for r in results if "expected" in r]
    unanswerable = [r for r in results if "expected" not in r]
    n = len(answerable)
    print(f"\nanswerable n={n}: correct={sum(r['correct'] for r in answerable)}/{n} "
          f"right-doc={sum(r['right_doc'] for r in answerable)}/{n} terms={sum(r['terms'] for r in answerable)}/{n} "
          f"found={sum(bool(r['found']) for r in answerable)}/{n}")
    print(f"unanswerable n={len(unanswerable)}: refused={sum(r['correct'] for r in unanswerable)}/{len(unanswerable)}")
    if llm:
        print(f"through {kb.llm.model if kb.llm else '-'}: {used} replies used, {set_aside} set aside")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--eval-dir", required=True, type=Path, help="the question set's folder")
    parser.add_argument("--data-dir", type=Path, help="an existing KB_DATA_DIR holding the ingested corpus")
    parser.add_argument("--fast", action="store_true", help="ask in this process instead of one `kb ask` each")
    parser.add_argument("--only", nargs="*", default=[], help="only these question ids")
    parser.add_argument("--ask", type=Path, help="another question set (JSON lines as ask.jsonl; with --fast)")
    parser.add_argument("--show", action="store_true", help="print each answer (with --fast)")
    parser.add_argument("--llm", action="store_true", help="answer through the KB_LLM_* model (with --fast)")
    args = parser.parse_args(argv)
    eval_dir = args.eval_dir.resolve()
    with tempfile.TemporaryDirectory(prefix="eval-ask-") as tmp:
        kb = _kb_command(Path(tmp))
        data_dir = args.data_dir.resolve() if args.data_dir else Path(tmp) / "data"
        if args.data_dir is None:
            ingest(eval_dir, data_dir, kb)
        if args.fast:
            for key in [k for k in os.environ if k.startswith(("KB_", "OPENAI_"))]:
                if not (args.llm and key.startswith("KB_LLM_")):
                    del os.environ[key]
            fast(eval_dir, data_dir, args.only, args.show, args.ask, args.llm)
            return 0
        command = [sys.executable, str(eval_dir / "score_ask.py"), "--kb", str(kb), "--data-dir", str(data_dir),
                   "--out", str(Path(tmp) / "ask_results.jsonl")]
        if args.only:
            command += ["--only", *args.only]
        return subprocess.run(command, env=_clean_env(data_dir), check=False).returncode


if __name__ == "__main__":
    raise SystemExit(main())
