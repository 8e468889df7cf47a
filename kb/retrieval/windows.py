"""A long query read in windows: the embedding model reads only a text's first 256 word pieces.

A whole incident report used as a query (`kb similar`, a pasted document) is embedded by its opening only,
so what it says further on never reaches the dense side. Such a query is also cut into windows of
``WINDOW_WORDS`` words at word boundaries after its opening, each embedded and searched on its own; a passage
scores by the closest of the whole query and its windows. The whole query reads the opening (a first window
would read the same words, or fewer); the windows start every ``WINDOW_WORDS`` words after it and the last
one ends with the text, so each window is as long as the others and a few leftover words are never a window
of their own. At most ``MAX_WINDOWS`` are read, so the cost of a query stays bounded whatever its length
(docs/retrieval.md).
"""

from __future__ import annotations

#: words in a window: about what the model's 256 word pieces hold of incident prose
WINDOW_WORDS = 150
#: windows read at most after the whole query, so a query costs at most 8 embeddings; they reach word 1,200,
#: about where a search cuts a query (``search.MAX_QUERY_CHARS``)
MAX_WINDOWS = 7


def windows(text: str, size: int = WINDOW_WORDS, most: int = MAX_WINDOWS) -> list[str]:
    """The windows of ``size`` words after the text's opening ``size`` words, whole words joined by one space,
    at most ``most`` (the words after them are not read): one every ``size`` words, the last ending where the
    text ends (or where the last window read ends). A text of at most ``size`` words has none: it is read whole."""
    words = text.split(maxsplit=size * (most + 1))[: size * (most + 1)]  # the rest stays one unread piece
    if len(words) <= size:
        return []
    starts = list(range(size, len(words) - size + 1, size))
    if not starts or starts[-1] + size < len(words):
        starts.append(len(words) - size)  # the last window ends with the text
    return [" ".join(words[s : s + size]) for s in starts]
