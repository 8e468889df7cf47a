"""What a search is, as the page keeps it: the query, the filters, how many results and their order; read from and
written to the page's address (only what differs from the defaults, so a link stays readable) and kept in the
session, so Back, the sidebar and a pasted link all bring the same search back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

DEFAULT_K = 8
MAX_K = 20
#: the longest query an address carries (a pasted alert fits; a pasted file is cut, as search cuts it)
MAX_QUERY_CHARS = 8_000
#: the address's names for each field (short and readable: ?q=...&kind=postmortem&service=checkout)
PARAMS = ("q", "kind", "service", "severity", "since", "until", "k", "newest")


@dataclass
class SearchState:
    """One search as the page shows it."""

    query: str = ""
    kinds: list[str] = field(default_factory=list)
    services: list[str] = field(default_factory=list)
    severities: list[str] = field(default_factory=list)
    since: dt.date | None = None
    until: dt.date | None = None
    k: int = DEFAULT_K
    newest: bool = False

    def params(self) -> dict[str, str | list[str]]:
        """The address's query parameters: only the values that are not the defaults."""
        out: dict[str, str | list[str]] = {}
        if self.query.strip():
            out["q"] = self.query
        for name, values in (("kind", self.kinds), ("service", self.services), ("severity", self.severities)):
            if values:
                out[name] = list(values)
        if self.since:
            out["since"] = self.since.isoformat()
        if self.until:
            out["until"] = self.until.isoformat()
        if self.k != DEFAULT_K:
            out["k"] = str(self.k)
        if self.newest:
            out["newest"] = "1"
        return out

    def copy(self) -> SearchState:
        return SearchState(**asdict(self))


def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        return None


def _known(values: Sequence[str], options: Sequence[str]) -> list[str]:
    """The values among the options (an address may name a service that is not in this store), in order, once;
    matched without regard to case, given as the options spell them."""
    by_lower = {o.lower(): o for o in options}
    return list(dict.fromkeys(by_lower[v.lower()] for v in values if v.lower() in by_lower))


def from_params(
    get_all: Callable[[str], list[str]], kinds: Sequence[str], services: Sequence[str], severities: Sequence[str]
) -> SearchState:
    """The search an address describes (``get_all(name)`` gives every value of a parameter). What the store does
    not know (a kind, service or severity), a malformed date or count, is left out, never an error: an address
    is typed, pasted and shared."""

    def first(name: str) -> str:
        values = get_all(name)
        return values[0] if values else ""

    def listed(name: str) -> list[str]:
        # repeated (?service=a&service=b) or comma-separated (?service=a,b)
        return [v.strip() for value in get_all(name) for v in value.split(",") if v.strip()]

    try:
        k = min(MAX_K, max(1, int(first("k")))) if first("k") else DEFAULT_K
    except ValueError:
        k = DEFAULT_K
    since, until = _date(first("since")), _date(first("until"))
    if since and until and since > until:
        since, until = until, since
    return SearchState(
        query=first("q")[:MAX_QUERY_CHARS],
        kinds=_known(listed("kind"), kinds),
        services=_known(listed("service"), services),
        severities=_known(listed("severity"), severities),
        since=since,
        until=until,
        k=k,
        newest=first("newest").lower() in ("1", "true", "yes", "on"),
    )


def has_search(params: Mapping[str, object]) -> bool:
    """Whether an address carries any part of a search."""
    return any(name in params for name in PARAMS)
