"""The leak guard: nothing that states the root cause reaches the trainee. A text that shares an eight-word
run with the root-cause sections, or several of the words only the cause sections use, gives it away.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from kb.core.enums import SectionName
from kb.core.models import Record
from kb.gameday.timeline import section_text
from kb.text.steps import terms_of

CAUSE_SECTIONS = (SectionName.root_cause, SectionName.contributing_factors)


#: A word is specific to the cause when at most this share of all passages use it ("exclusive", "ndots").
RARE = 0.03
#: A text sharing this many cause-specific words with the root-cause sections gives the cause away.
LEAK_TERMS = 3


class LeakGuard:
    """Decides whether a text gives away the root cause: it repeats eight words in a row of the cause
    sections, or uses several words that only the cause sections (and few other passages) use."""

    def __init__(self, cause_text: str, cause_terms: set[str]) -> None:
        self.cause_words = re.findall(r"\w+", cause_text.lower())
        self.shingles = {tuple(self.cause_words[i : i + 8]) for i in range(max(0, len(self.cause_words) - 7))}
        self.cause_only = cause_terms

    @classmethod
    def for_record(cls, record: Record, share: Callable[[str], float] | None = None) -> LeakGuard:
        cause = section_text(record, *CAUSE_SECTIONS)
        visible = section_text(record, SectionName.detection, SectionName.impact)
        visible += " " + " ".join(record.alerts + record.services)
        specific = terms_of(cause + " " + record.title) - terms_of(visible)
        return cls(cause, {t for t in specific if share is None or share(t) <= RARE})

    def repeats(self, text: str) -> bool:
        """Does the text repeat the cause sections word for word (eight words or more)?"""
        words = re.findall(r"\w+", text.lower())
        return any(tuple(words[i : i + 8]) in self.shingles for i in range(max(0, len(words) - 7)))

    def leaks(self, text: str) -> bool:
        return self.repeats(text) or len(terms_of(text) & self.cause_only) >= LEAK_TERMS
