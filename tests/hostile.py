"""Every parser that sees document, chat, query or alert text, as one ``str -> object`` call each, and
the shapes of hostile input: long runs of the characters their patterns care about.

Shared by the property test (tests/test_hostile.py) and the benchmark (scripts/bench_hostile.py).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from ingest import chunking, extract
from ingest.redaction import redact
from ingest.sources import markdown, quoted_chat, slack, transcript
from ingest.sources.base import ParseOptions
from kb.core.bounded import Refused
from kb.core.errors import ParseError
from kb.generation import candidates, chatlines, question, quoting, summary
from kb.retrieval.alerts import AlertParseError, parse_alert
from kb.retrieval.reasons import terms
from kb.retrieval.search import bounded_query
from kb.retrieval.sectioning import clean_heading, opening
from kb.text import steps
from kb.text.analysis import analyze
from kb.text.front_matter import split_front_matter

ROOT = Path(__file__).resolve().parent.parent


def _front_matter(text: str) -> Any:
    try:
        return split_front_matter("---\n" + text + "\n---\nbody\n")
    except Refused as exc:
        return str(exc)


def _markdown(text: str) -> Any:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "hostile.md"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            # redaction is timed on its own ("redact"): here, the Markdown parser and what it extracts
            return [len(r.text) for r in markdown.parse(path, ParseOptions(redact=False))]
        except ParseError as exc:
            return exc.reason


def _metadata(text: str) -> Any:
    return (
        extract.alerts_from_text(text),
        extract.errors_from_text(text),
        extract.severity_from_text(text, anywhere=True),
        extract.date_from_text(text),
        extract.services_from_text(text, {"checkout", "orders-db", "payments"}),
        extract.meta_line(text, "owner", "title", "duration"),
        clean_heading(text),
        opening(text),
    )


def _chunking(text: str) -> Any:
    sections = [(n, h, s, e) for n, h, s, e in extract.plain_sections(text)]
    return len(chunking.chunk_spans(text, sections, 120))


def _transcript(text: str) -> Any:
    return transcript.looks_like_transcript(text), len(transcript.messages_of(text, date(2024, 1, 1)))


def _slack(text: str) -> Any:
    return len(slack._plain(text, {"U1": "ana"}, {"C1": "incidents"}))


def _alert(text: str) -> Any:
    try:
        return parse_alert(text, "hostile").text[:10]
    except AlertParseError as exc:
        return str(exc)[:10]


def _query(text: str) -> Any:
    quote = text  # a passage is quoted as it comes; a question or search text is read as far as the search reads it
    text = bounded_query(text)
    return (
        len(terms(text)),
        [bool(p.search(text)) for p in question.FACT_FORMS.values()],
        bool(question.FOLLOW_UP.search(text)),
        bool(question.LATEST.search(text)),
        len(question.named_months(text)),
        quoting.quoted(quote)[:10],
        len(quoting.quote_parts(quoting.quoted(quote))),
        candidates.heading_length(quote),
    )


def _steps(text: str) -> Any:
    span = steps.Span(0, len(text), text)
    return (
        len(steps.split_steps(text)),
        len(steps.table_rows(text)),
        len(steps.sentences(span)),
        steps.clean_step(text)[:10],
        steps.has_command(text),
        len(steps.command_shapes(text)),
        steps.is_change(text),
        [bool(p.search(text)) for p in (summary.CLOCK, chatlines.PROMPT)],
        len(quoted_chat.quoted_messages(text, None)),
    )


def _redact(text: str) -> Any:
    return redact(text).total


#: name -> the call that parses text of that kind
PARSERS: dict[str, Callable[[str], Any]] = {
    "front matter": _front_matter,
    "markdown": _markdown,
    "transcript": _transcript,
    "slack": _slack,
    "alert payload": _alert,
    "metadata": _metadata,
    "chunking": _chunking,
    "tokenizer": lambda text: len(analyze(text)),
    "query": _query,
    "steps and cues": _steps,
    "redact": _redact,
}

#: what the patterns care about: markup, separators, key words, case runs, brackets, YAML syntax
PIECES = (
    "A", "a", "0", " ", "\n", "\t", "-", "_", "*", ".", ":", "=", "(", ")", "[", "]", "{", "}", "<", ">", "|",
    "`", "#", "$ ", "\"", "'", "/", "@", "%", "!", "Ab", "AB", "aB", "\n\n", " \n", "- ", "1. ", "| --- ",
    "alert: ", "firing: [", "Severity: ", "**Owner:** ", "sev", "P1", "2024-01-01", "[2024-01-01 10:00:00] ",
    "ana: ", "kubectl ", "$ psql ", "`kubectl get pods` ", "Error", "HTTP 503 ", "(due ", "{{ ", "}}",
    "<http://x|", "<@U1|", "-----BEGIN RSA PRIVATE KEY-----\n", "password=", "Bearer ", "eyJ", "AKIA",
    "https://", "://u:", "&a ", "*a ", "[*a,", "{a: ", "---\n", "```\n", "# ", "> ", "\\",
)

#: built by hand: each known to make a backtracking engine explode somewhere in the code at some point
KNOWN: dict[str, str] = {
    "camel case run": "Ab" + "A" * 48 + "-",
    "key line of asterisks": "Owner: " + "*" * 3000 + "!",
    "blank lines": "\n" * 4000 + "x",
    "alert then spaces": "alert" + " \n" * 2000 + ")",
    "unclosed templates": "{{" * 2000,
    "unclosed notes": "Services: " + "(" * 2000,
    "table of spaces": "|" + " " * 3000 + "x",
    "open links": "<http://x" * 1000,
    "private key headers": "-----BEGIN RSA PRIVATE KEY-----\n" * 300,
}


def build(pieces: list[tuple[str, int]], size: int) -> str:
    """``pieces`` (text, repeat) joined in order, cut at ``size`` characters."""
    out: list[str] = []
    total = 0
    for text, repeat in pieces:
        repeat = min(repeat, (size - total) // max(len(text), 1) + 1)
        out.append(text * repeat)
        total += len(text) * repeat
        if total >= size:
            break
    return "".join(out)[:size]


def runs(size: int) -> dict[str, str]:
    """One input of ``size`` characters per family: a run of one piece, of two pieces alternating, a
    piece then a run then a breaking character, and the hand-built cases scaled up."""
    found: dict[str, str] = {}
    for piece in PIECES:
        found[f"run of {piece!r}"] = build([(piece, size)], size)
        found[f"{piece!r} then a run of 'A', then '-'"] = piece + build([("A", size)], size - len(piece) - 1) + "-"
        found[f"{piece!r} then a run of blanks, then '!'"] = piece + build([(" \n", size)], size - len(piece) - 1) + "!"
    for first, second in zip(PIECES, PIECES[1:] + PIECES[:1], strict=True):
        found[f"run of {first + second!r}"] = build([(first + second, size)], size)
    for name, text in KNOWN.items():
        found[name] = build([(text, size)], size)
    return found


def normal(size: int) -> str:
    """Ordinary documents from the sample corpus, repeated to ``size`` characters."""
    texts = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "data").glob("*/*.*")) if p.suffix in {".md", ".txt"}]
    return build([("\n\n".join(texts), size)], size)
