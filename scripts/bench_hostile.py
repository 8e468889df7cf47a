"""Worst time per parser on hostile input, against an ordinary document of the same size.

For each parser (tests/hostile.py: front matter, Markdown, transcript, Slack, alert payload, metadata,
chunking, tokenizer, query, steps and cues, redaction, plus PDF reading) every family of hostile input is tried
at --probe size; the slowest --top families are then timed at each --sizes size, each in a child
process killed after --timeout seconds. Goal: at most 1 s for 1 MB, and a ratio to the ordinary
document that stays flat as the size grows (linear, not worse).

    PYTHONPATH=. python scripts/bench_hostile.py               # up to 1 MB
    PYTHONPATH=. python scripts/bench_hostile.py --sizes 100000 --top 2
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.hostile import PARSERS, normal, runs

_CTX = multiprocessing.get_context("fork")


def _timed(conn: Any, parse: Callable[[str], Any], text: str) -> None:
    started = time.process_time()  # CPU seconds: on a shared machine, wall time measures the neighbours
    try:
        parse(text)
        conn.send(time.process_time() - started)
    except Exception as exc:
        conn.send(f"{type(exc).__name__}: {exc}"[:120])


def measure(parse: Callable[[str], Any], text: str, timeout: float) -> float | str:
    """CPU seconds ``parse(text)`` took in a child process; a string when it raised or ran past ``timeout``
    seconds of wall time."""
    parent, child = _CTX.Pipe(duplex=False)
    proc = _CTX.Process(target=_timed, args=(child, parse, text), daemon=True)
    proc.start()
    child.close()
    try:
        return parent.recv() if parent.poll(timeout) else f"over {timeout:.0f} s (killed)"
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join()
        parent.close()


def _pdf_parser() -> tuple[str, Callable[[str], Callable[[str], Any]]] | None:
    """("pdf", text -> a reader of that text laid out as a PDF): rendering happens before the timing."""
    try:
        from scripts.make_sample_pdfs import markdown_to_pdf
    except Exception:  # the PDF maker needs its optional font setup
        return None
    from ingest.sources.pdf import page_texts
    from kb.core.errors import ParseError

    def reader(text: str) -> Callable[[str], Any]:
        data = markdown_to_pdf("# Hostile\n\n" + text.replace("\n", "\n\n"))

        def parse(_: str) -> Any:
            try:
                return len(page_texts(Path("hostile.pdf"), data))
            except ParseError as exc:
                return exc.reason

        return parse

    return "pdf (read)", reader


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000], help="input sizes, characters")
    ap.add_argument("--probe", type=int, default=5_000, help="size at which every family is tried first")
    ap.add_argument("--top", type=int, default=3, help="slowest families per parser timed at --sizes")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds before a run counts as a hang")
    ap.add_argument("--only", nargs="*", help="parsers to run (default all)")
    args = ap.parse_args()

    parsers = dict(PARSERS)
    print(f"CPU seconds per call (wall-clock timeout per call: {args.timeout:.0f} s)")
    print(f"{'parser':<22} {'size':>9} {'worst s':>9} {'normal s':>9} {'ratio':>7}  worst input")
    worst_overall = 0.0
    for name, parse in parsers.items():
        if args.only and name not in args.only:
            continue
        probe = {family: measure(parse, text, args.timeout) for family, text in runs(args.probe).items()}
        slowest = sorted(probe, key=lambda f: -_seconds(probe[f]))[: args.top]
        for size in args.sizes:
            families = runs(size)
            timed = {family: measure(parse, families[family], args.timeout) for family in slowest}
            family = max(timed, key=lambda f: _seconds(timed[f]))
            base = measure(parse, normal(size), args.timeout)
            worst = timed[family]
            ratio = _seconds(worst) / max(_seconds(base), 1e-4)
            worst_overall = max(worst_overall, _seconds(worst))
            print(f"{name:<22} {size:>9,} {_show(worst):>9} {_show(base):>9} {ratio:>7.1f}  {family}", flush=True)
    pdf = _pdf_parser()
    if pdf and (not args.only or pdf[0] in args.only):
        name, reader = pdf
        for size in args.sizes:
            families = runs(size)
            base = measure(reader(normal(size)), "", args.timeout)
            for family in ("run of 'Ab'", "camel case run", "blank lines"):
                worst = measure(reader(families[family]), "", args.timeout)
                ratio = _seconds(worst) / max(_seconds(base), 1e-4)
                worst_overall = max(worst_overall, _seconds(worst))
                print(f"{name:<22} {size:>9,} {_show(worst):>9} {_show(base):>9} {ratio:>7.1f}  {family}", flush=True)
    print(f"worst of all: {worst_overall:.2f} s")
    return 0


def _seconds(value: float | str) -> float:
    return value if isinstance(value, float) else float("inf")


def _show(value: float | str) -> str:
    return f"{value:.3f}" if isinstance(value, float) else "ERR"


if __name__ == "__main__":
    raise SystemExit(main())
