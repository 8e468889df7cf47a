"""A long query read in windows: the embedding model reads only a text's first 256 word pieces.

A whole incident report used as a query (`kb similar`, a pasted document) is embedded by its opening only,
so what it says further on never reaches the dense side. Such a query is also cut into windows of
``WINDOW_WORDS`` words at word boundaries, each embedded and searched on its own; a passage scores by the
window (the whole query among them) closest to it. Windows start every ``WINDOW_WORDS`` words and the last
one ends with the text, so each window is as long as the others and a few leftover words are never a window
of their own; at most ``MAX_WINDOWS`` are read, so the cost of a query stays bounded whatever its length
(docs/retrieval.md).
"""

from __future__ import annotations

import re

#: words in a window: about what the model's 256 word pieces hold of incident prose
WINDOW_WORDS = 150
#: windows read at most (their first ones; a query is cut to ``search.MAX_QUERY_CHARS`` before, ~1,200 words)
MAX_WINDOWS = 8
_WORD = re.compile(r"\S+")


def windows(text: str, size: int = WINDOW_WORDS, most: int = MAX_WINDOWS) -> list[str]:
    """The text's windows of ``size`` words, cut at word boundaries with its own spacing kept, at most ``most``:
    one every ``size`` words, the last ending where the text ends (or, for a text longer than ``most`` windows,
    where the last window read ends). A text of at most ``size`` words gives no window: it is read whole."""
    spans: list[tuple[int, int]] = []
    for n, match in enumerate(_WORD.finditer(text)):
        if n == size * most + 1:  # more words than the windows read: stop reading
            break
        spans.append(match.span())
    if len(spans) <= size:
        return []
    spans = spans[: size * most]
    starts = list(range(0, len(spans) - size + 1, size))
    if starts[-1] + size < len(spans):
        starts.append(len(spans) - size)  # the last window ends with the text
    return [text[spans[s][0] : spans[s + size - 1][1]] for s in starts]
