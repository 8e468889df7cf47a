"""Progress bars for long commands: one tqdm bar per stage on an interactive terminal, nothing otherwise."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import Any

#: Stage names of the library's progress callbacks, as people read them.
LABELS = {"scan": "reading", "embed": "embedding and storing", "index": "keyword index"}


@contextlib.contextmanager
def progress_bars(interactive: bool) -> Iterator[Callable[[str, int, int], None]]:
    """A ``progress(stage, done, total)`` callback; every bar is closed when the block ends."""
    bars: dict[str, Any] = {}
    if not interactive:
        yield lambda stage, done, total: None
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
