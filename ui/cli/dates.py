"""Dates on the command line: a day (2025-01-08), a month (2025-01) or a year (2025)."""

from __future__ import annotations

import argparse
import calendar
import re
from datetime import date

_PARTIAL = re.compile(r"^(\d{4})(?:-(\d{1,2}))?$")


def _parse(value: str, last: bool) -> date:
    text = value.strip()
    match = _PARTIAL.match(text)
    try:
        if not match:
            return date.fromisoformat(text)
        year, month = int(match.group(1)), int(match.group(2) or (12 if last else 1))
        day = calendar.monthrange(year, month)[1] if last else 1
        return date(year, month, day)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD, YYYY-MM or YYYY): {value!r}") from exc


def since_date(value: str) -> date:
    """The first day of what ``value`` names: 2025 -> 2025-01-01, 2025-03 -> 2025-03-01."""
    return _parse(value, last=False)


def until_date(value: str) -> date:
    """The last day of what ``value`` names: 2025 -> 2025-12-31, 2025-02 -> 2025-02-28."""
    return _parse(value, last=True)
