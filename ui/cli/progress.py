"""Progress for long commands: one tqdm bar per stage on an interactive terminal; otherwise (a pipe, a log
file, CI, scripts/run under another program) plain lines on stderr with counts, rate and time left."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any, TextIO

#: Stage names of the library's progress callbacks, as people read them.
LABELS = {"scan": "reading", "embed": "embedding and storing", "index": "keyword index"}
#: What each stage counts.
UNITS = {"scan": "files", "embed": "chunks"}
#: Without a terminal, at most one line per stage this often (plus its first and its last).
EVERY_S = 5.0


def duration(seconds: float) -> str:
    """'45 s', '3 min 05 s'."""
    whole = max(0, round(seconds))
    return f"{whole // 60} min {whole % 60:02d} s" if whole >= 60 else f"{whole} s"


class LineProgress:
    """A ``progress(stage, done, total)`` callback that writes plain lines: one when a stage starts, then at
    most one every ``every`` seconds with the count, the rate and the time left, and one when it ends."""

    def __init__(self, out: TextIO, every: float = EVERY_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.out = out
        self.every = every
        self.clock = clock
        self.stage = ""
        self.started = self.last = 0.0
        self.first = 0  # the count at the stage's first call: the rate counts from there
        self.ended = False

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = self.clock()
        label, unit = LABELS.get(stage, stage), UNITS.get(stage, "")
        if stage != self.stage:
            self.stage, self.started, self.last, self.first, self.ended = stage, now, now, done, False
            if done < total:
                self._say(f"{label}: {done}/{total} {unit} ..." if unit else f"{label} ...")
                return
        if done >= total:
            if not self.ended:
                self.ended = True
                counted = f" {total} {unit[:-1] if total == 1 else unit}" if unit else ""  # 1 file, 2 files
                self._say(f"{label}:{counted} done in {duration(now - self.started)}")
            return
        if now - self.last < self.every:
            return
        self.last = now
        rate = (done - self.first) / max(now - self.started, 1e-9)
        left = f", about {duration((total - done) / rate)} left" if rate > 0 else ""
        self._say(f"{label}: {done}/{total} {unit} ({rate:.1f} {unit}/s{left})")

    def _say(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()


@contextlib.contextmanager
def progress_bars(interactive: bool) -> Iterator[Callable[[str, int, int], None]]:
    """A ``progress(stage, done, total)`` callback: bars on a terminal (closed when the block ends), lines
    on stderr otherwise."""
    bars: dict[str, Any] = {}
    if not interactive:
        yield LineProgress(sys.stderr)
        return
    from tqdm import tqdm

    def progress(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            for other in bars.values():
                other.close()  # a new stage began: the previous one is done
            bar = bars[stage] = tqdm(
                total=total,
                desc=LABELS.get(stage, stage),
                file=sys.stderr,
                leave=False,
                unit="chunk" if stage == "embed" else "item",
            )
        bar.n = done
        bar.refresh()

    try:
        yield progress
    finally:
        for bar in bars.values():
            bar.close()
