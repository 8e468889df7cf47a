"""Text analysis for keyword (BM25) search of SRE text.

On-call people and alerts write identifiers, not prose: ``KubePodCrashLooping``,
``node_filesystem_avail_bytes``, ``checkout-7d9f8b6c5-x2k4p``, ``HTTP 503``, ``OOMKilled``. The analyzer
keeps each identifier whole *and* emits its parts, so a query for "pod crash looping" finds the alert
and a query for the alert name finds prose about it; strips the random suffixes Kubernetes puts on pod
names; lowercases, drops stopwords and stems English words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from nltk.stem.snowball import EnglishStemmer

STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing during each few for from further had has have having
    he her here hers herself him himself his how i if in into is it its itself just me more most my myself no
    nor not now of off on once only or other our ours ourselves out over own same she should so some such than
    that the their theirs them themselves then there these they this those through to too under until up very
    was we were what when where which while who whom why will with would you your yours yourself yourselves
    also may might must shall via per within without than upon e.g i.e etc""".split()
)  # "down" is not one: in SRE text it is the condition itself ("KubeletDown", "checkout is down")

_RAW = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_.\-/:]*[A-Za-z0-9])?")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z0-9])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_SPLIT = re.compile(r"[_.\-/:]+")
# a Kubernetes pod/replica-set suffix: 5-10 lowercase alphanumerics with at least one digit
_POD_SUFFIX = re.compile(r"^(?=[a-z0-9]*[0-9])[a-z0-9]{5,10}$")
_HEXISH = re.compile(r"^(?=.*\d)[0-9a-f]{7,}$")


@dataclass(frozen=True)
class AnalyzerOptions:
    """Switches for each analysis choice, so each can be measured on its own."""

    split_identifiers: bool = True  # CamelCase, snake_case, dotted and dashed names -> parts
    keep_whole: bool = True  # keep the identifier itself too
    identifier_parts: bool = True  # emit an identifier's parts (off: the whole identifier only)
    stem: bool = True
    stopwords: bool = True
    status_classes: bool = True  # 503 -> also '5xx'
    strip_pod_suffixes: bool = True
    negated_states: bool = True  # "unready" -> also "ready" (matching "NotReady", "not ready")


DEFAULT = AnalyzerOptions()


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    return _STEMMER.stem(word) if word.isalpha() and len(word) > 3 else word


_STEMMER = EnglishStemmer()

#: States that alerts and responders write both ways: "unready" / "NotReady", "unhealthy" / "not healthy".
#: A word "un" + one of these also indexes the state itself, so either spelling finds the other.
NEGATED_STATES = frozenset(
    "ready healthy available reachable responsive schedulable mounted bound synced stable successful authorized "
    "authenticated initialized resolvable".split()
)


def _has_camel(piece: str) -> bool:
    """'KubePod', 'etcdHigh', 'OOMKilled' yes; 'x509', 'HTTP', 'checkout' no."""
    return any(c.isupper() for c in piece[1:]) and not piece.isupper()


def _parts(token: str, options: AnalyzerOptions) -> list[str]:
    pieces = [p for p in _SPLIT.split(token) if p]
    if options.strip_pod_suffixes and len(pieces) >= 2:
        while len(pieces) > 1 and (_POD_SUFFIX.match(pieces[-1]) or _HEXISH.match(pieces[-1])):
            pieces.pop()
    out: list[str] = []
    for piece in pieces:
        camel = _CAMEL.findall(piece) if _has_camel(piece) else []
        if len(camel) > 1:
            out.extend(camel)
        else:
            out.append(piece)
    return out


def count_tokens(text: str) -> int:
    """How many raw tokens (words and identifiers, each counted once) a text has."""
    return sum(1 for _ in _RAW.finditer(text))


def analyze(text: str, options: AnalyzerOptions = DEFAULT) -> list[str]:
    """Index terms of a text, in order (with repeats, as BM25 wants them)."""
    terms: list[str] = []
    for match in _RAW.finditer(text):
        raw = match.group(0)
        # text repeats its words, so each is analysed once; a long token is rare and not worth the memory
        terms.extend(_cached_token_terms(raw, options) if len(raw) <= 64 else _token_terms(raw, options))
    return terms


def _token_terms(raw: str, options: AnalyzerOptions) -> tuple[str, ...]:
    """The index terms of one raw token."""
    terms: list[str] = []
    lowered = raw.lower()
    parts = _parts(raw, options) if options.split_identifiers else [raw]
    compound = len(parts) > 1
    if compound and options.keep_whole:
        whole = "".join(p.lower() for p in parts) if options.strip_pod_suffixes else _SPLIT.sub("", lowered)
        # stemmed like a plain word, so "coredns" or "oomkilled" typed in lower case finds CoreDNS, OOMKilled
        terms.append(_stem(whole) if options.stem else whole)
    for part in parts if options.identifier_parts or not (compound and options.keep_whole) else ():
        word = part.lower()
        if options.stopwords and word in STOPWORDS:
            continue
        if len(word) == 1 and not word.isdigit():
            continue
        terms.append(_stem(word) if options.stem else word)
        if options.negated_states and word.startswith("un") and word[2:] in NEGATED_STATES:
            terms.append(_stem(word[2:]) if options.stem else word[2:])
        if options.status_classes and raw == word and len(word) == 3 and word.isdigit() and word[0] in "45":
            terms.append(word[0] + "xx")
    return tuple(terms)


_cached_token_terms = lru_cache(maxsize=100_000)(_token_terms)


def whole_term(identifier: str, options: AnalyzerOptions = DEFAULT) -> str:
    """The index term of an identifier as a whole ("KubePodCrashLooping" -> "kubepodcrashloop")."""
    joined = _SPLIT.sub("", identifier.lower())
    return _stem(joined) if options.stem else joined
