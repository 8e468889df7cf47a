"""Search filters checked against what is stored: a service or severity no stored document has gets a
warning naming the closest known values, so a typo does not pass for "nothing matches"."""

from __future__ import annotations

import difflib
from collections.abc import Sequence


def filter_hints(known: dict[str, list[str]], services: Sequence[str], severities: Sequence[str]) -> list[str]:
    """Warnings for filter values that no stored document has, with the closest known ones. ``known`` holds
    the stored "services" (lower case) and "severities" (upper case), as ``KeywordIndex.known_values`` gives
    them."""
    hints: list[str] = []
    for label, asked, have, norm in (
        ("service", services, known["services"], str.lower),
        ("severity", severities, known["severities"], str.upper),
    ):
        for value in asked:
            if norm(value) in have or not have:
                continue
            close = difflib.get_close_matches(norm(value), have, n=3, cutoff=0.6)
            if close:
                offer = f"did you mean {', '.join(close)}?"
            else:
                more = f", ... ({len(have)} in all)" if len(have) > 30 else ""
                offer = "known: " + ", ".join(have[:30]) + more
            hints.append(f"no stored document has {label} {value!r}; {offer}")
    return hints
