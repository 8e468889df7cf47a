"""What document text may not become: a step, an answer or a clue that speaks to an AI, carries live markup,
or runs a dangerous command without saying so.

Every generator, extractive or LLM, passes its lines through these checks (``kb.generation.grounding.Evidence`` calls
them for drafts, answers and summaries; catch-up and game days call ``refusal`` themselves):

- ``speaks_to_ai``: text addressed to an AI reading it (a prompt injection). Judged by meaning: each sentence
  is embedded with the bundled all-MiniLM-L6-v2 model and compared with labelled examples
  (``kb/guard_examples.py``) of injections and of ordinary SRE text; a sentence much nearer the injections
  is one. A short rule for the best-known phrasings ("ignore previous instructions", "system prompt") backs
  it up and is all there is when the model package is missing.
- ``markup``: raw HTML that does something (a tag with attributes, a closing tag, an element of the HTML
  standard such as script, img, iframe) and links or images whose address has a scheme other than http(s)
  (javascript:, data:, vbscript:, file:). Decided by parsing the text as CommonMark (markdown-it-py): what is
  inside code spans and code blocks is code, shown as text, and never counts.
- ``cautions``: commands that delete, force, wipe or run a downloaded script. Each line (and each code span)
  is split into words with ``shlex`` and into pipeline stages at ``|``, ``;``, ``&&``; the stages are read
  as commands (``kubectl delete``, ``rm -rf``, ``curl ... | sh``, ``--replicas=0``, ``--force``); SQL
  statements (DROP, TRUNCATE, DELETE without WHERE) are recognised by their keywords.
- ``inert``: Markdown made safe to render in a browser: images and HTML shown as text, so nothing a document
  names is fetched by the viewer's browser.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Iterator
from functools import lru_cache
from html.parser import HTMLParser
from typing import TYPE_CHECKING

from markdown_it import MarkdownIt
from markdown_it.common.html_blocks import block_names
from markdown_it.token import Token

from kb.text.steps import CLI_NAMES

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding

# -- instructions to an AI ------------------------------------------------------------------------------

#: A sentence is an injection when its nearest injection examples are at least this similar (cosine) ...
MIN_SIMILARITY = 0.4
#: ... and this much nearer than its nearest ordinary examples.
MIN_MARGIN = 0.03
#: How many nearest examples are averaged on each side.
NEIGHBOURS = 3
#: Sentences judged by the model per text.
MAX_SENTENCES = 40
MAX_SENTENCE_CHARS = 1000
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


class _Judge:
    """Labelled examples embedded once; a sentence's nearest neighbours on each side decide."""

    def __init__(self, model: BaseEmbedding) -> None:
        import numpy as np

        from kb.generation.guard_examples import INJECTIONS, ORDINARY

        self.np = np
        self.model = model
        self.injections = np.array(model.get_text_embedding_batch(list(INJECTIONS)))
        self.ordinary = np.array(model.get_text_embedding_batch(list(ORDINARY)))

    def scores(self, sentences: list[str]) -> list[tuple[float, float]]:
        vectors = self.np.array(self.model.get_text_embedding_batch(sentences))
        near_bad = self.np.sort(vectors @ self.injections.T, axis=1)[:, -NEIGHBOURS:].mean(axis=1)
        near_ok = self.np.sort(vectors @ self.ordinary.T, axis=1)[:, -NEIGHBOURS:].mean(axis=1)
        return [(float(b), float(o)) for b, o in zip(near_bad, near_ok, strict=True)]


@lru_cache(maxsize=1)
def _judge() -> _Judge | None:
    """The bundled model with the examples embedded, or None when the model package is not installed."""
    from kb.core.errors import KBError

    try:
        from kb.retrieval.embeddings import OnnxMiniLMEmbedding

        return _Judge(OnnxMiniLMEmbedding.shared())
    except (KBError, ImportError, OSError):
        return None


def _sentences(text: str) -> list[str]:
    out: list[str] = []
    pos = 0
    for match in [*_SENTENCE.finditer(text[: MAX_SENTENCES * MAX_SENTENCE_CHARS * 4]), None]:
        end = match.start() if match else len(text)
        piece = text[pos:end].strip(" -*>#`0123456789.)\t")
        pos = match.end() if match else len(text)
        if len(piece.split(maxsplit=3)) >= 3:
            out.append(piece[:MAX_SENTENCE_CHARS])  # the model reads 256 word pieces, about this many characters
            if len(out) == MAX_SENTENCES:
                break
    return out


#: verdicts of sentences already judged in this process (bounded: cleared when full)
_VERDICTS: dict[str, bool] = {}
_MAX_VERDICTS = 8192


def _judge_sentences(sentences: list[str]) -> None:
    """Judge every sentence not judged yet, in one batch of the model."""
    todo = [s for s in dict.fromkeys(sentences) if s not in _VERDICTS]
    if not todo:
        return
    judge = _judge()
    if len(_VERDICTS) + len(todo) > _MAX_VERDICTS:
        _VERDICTS.clear()
    if judge is None:
        _VERDICTS.update(dict.fromkeys(todo, False))
        return
    for sentence, (bad, ok) in zip(todo, judge.scores(todo), strict=True):
        _VERDICTS[sentence] = bad >= MIN_SIMILARITY and bad - ok >= MIN_MARGIN


def prepare(texts: Iterable[str]) -> None:
    """Judge the sentences of many texts at once (one model batch instead of one call per sentence); the
    checks below then answer from what was judged."""
    _judge_sentences([s for text in texts for s in _sentences(text)])


def speaks_to_ai(text: str) -> bool:
    """Does the text address instructions to an AI that reads it? Judged by the bundled embedding model
    against labelled examples (kb/guard_examples.py), sentence by sentence."""
    sentences = _sentences(text)
    _judge_sentences(sentences)
    return any(_VERDICTS.get(s, False) for s in sentences)


# -- markup -------------------------------------------------------------------------------------------

#: Elements of the HTML standard that load, run or restructure something; with CommonMark's block names.
ACTIVE_ELEMENTS = frozenset(block_names) | {
    "script", "style", "textarea", "pre", "img", "image", "svg", "math", "iframe", "object", "embed", "video",
    "audio", "source", "picture", "input", "button", "a", "form", "link", "meta", "base", "applet", "frame",
    "marquee", "template", "portal", "noscript",
}
WEB_SCHEMES = ("http", "https")
_SCHEME = re.compile(r"^\s*([A-Za-z][A-Za-z0-9+.-]{0,31}):")
#: a script URL written out as text (javascript:alert(1)), not only as a link
_SCRIPT_URL = re.compile(r"\b(?:javascript|vbscript|livescript)\s*:|\bdata\s*:\s*text/html", re.I)


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True})
    md.validateLink = lambda url: True  # type: ignore[method-assign]  # see every link, whatever its scheme, to judge it here
    return md


_MD = _markdown()


class _Tags(HTMLParser):
    """The tags of an HTML fragment: (name, has attributes, closing)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, bool, bool]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, bool(attrs), False))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, bool(attrs), False))

    def handle_endtag(self, tag: str) -> None:
        self.tags.append((tag, False, True))


def _tokens(text: str) -> Iterator[Token]:
    for token in _MD.parse(text):
        yield token
        yield from token.children or ()


def scheme_of(url: str) -> str | None:
    match = _SCHEME.match(url)
    return match.group(1).lower() if match else None


def _html_reason(fragment: str) -> str | None:
    parser = _Tags()
    parser.feed(fragment)
    parser.close()
    for name, has_attrs, closing in parser.tags:
        if has_attrs or closing or name in ACTIVE_ELEMENTS:
            return f"raw HTML markup (<{'/' if closing else ''}{name}>)"
    return None


#: Longest text parsed as CommonMark; a longer one is judged by a stricter linear scan (any tag-like ``<``).
MAX_PARSE_CHARS = 20_000
_TAG_START = re.compile(r"<\s*/?\s*[A-Za-z!?]")


def markup(text: str, web_links_only: bool = False) -> str | None:
    """Why the text is markup rather than a step (None when it is not). ``web_links_only``: any link or
    image address with a scheme other than http(s) counts (model output); otherwise script schemes."""
    if len(text) > MAX_PARSE_CHARS:
        if _TAG_START.search(text) or _SCRIPT_URL.search(text) or (web_links_only and "](" in text):
            return f"something that may be markup in a text too long to parse ({len(text)} characters)"
        return None
    for token in _tokens(text):
        if token.type in ("html_inline", "html_block"):
            reason = _html_reason(token.content)
            if reason:
                return reason
        elif token.type in ("link_open", "image"):
            url = str(token.attrs.get("href" if token.type == "link_open" else "src", ""))
            scheme = scheme_of(url)
            if (scheme and scheme not in WEB_SCHEMES and web_links_only) or _SCRIPT_URL.match(url.strip()):
                return f"a link to a {scheme}: address"
            if token.type == "image" and web_links_only:
                return "an image (a model may not make the reader's browser fetch an address)"
        elif token.type == "text" and _SCRIPT_URL.search(token.content):
            return "a script address (javascript:)"
    return None


# -- dangerous commands ------------------------------------------------------------------------------------

#: Command-line tools whose verbs and flags are read (the project's list of CLI names, and a few more).
PROGRAMS = frozenset(re.findall(r"[\w-]+", CLI_NAMES)) | {
    "oc", "rm", "rmdir", "shred", "dd", "redis-cli", "terraform", "pulumi", "eksctl", "mongo", "mongosh", "etcdctl",
    "nomad", "consul", "virsh", "podman", "crictl", "ctr", "s3cmd", "gsutil", "rclone", "mysql", "kafka-topics",
    "kafka-topics.sh", "patronictl", "knife", "ansible", "salt", "find", "truncate", "fdisk", "wipefs",
}
FETCHERS = frozenset({"curl", "wget", "fetch", "iwr", "invoke-webrequest"})
SHELLS = frozenset({"sh", "bash", "zsh", "dash", "ksh", "fish", "python", "python3", "perl", "ruby", "node",
                    "pwsh", "powershell", "iex", "source", "."})
WRAPPERS = frozenset({"sudo", "doas", "env", "nohup", "time", "exec", "xargs", "watch", "$", "#", ">"})
DELETE_VERBS = frozenset({"delete", "del", "remove", "rm", "destroy", "uninstall", "terminate", "purge", "prune",
                          "drop", "wipe", "erase"})
# SQL (in a psql -c string, a code block or a line of its own)
_SQL_DROP = re.compile(r"\b(DROP)\s+(?:TABLE|DATABASE|SCHEMA|INDEX|VIEW|USER|ROLE|TABLESPACE|KEYSPACE|COLLECTION)\b"
                       r"|\b(TRUNCATE)\s+(?:TABLE\s+)?[\w.\"]+", re.I)
_SQL_DELETE = re.compile(r"\bDELETE\s+FROM\s+[\w.\"]+\s*(;|$|\"|')", re.I)
#: a shell running what a download prints: bash <(curl ...), sh -c "$(curl ...)", eval "$(wget ...)"
_FETCH_INTO_SHELL = re.compile(
    r"(?:\b(?:sh|bash|zsh|dash|ksh)\s+(?:-c\s+)?|\beval\s+|\bsource\s+)[\"']?(?:\$\(|<\(|`)\s*(?:curl|wget)\b", re.I
)
_CODE_SPAN = re.compile(r"`([^`\n]+)`")
_SEPARATORS = frozenset({"|", "||", "&&", ";", "&", "|&"})


def _words(line: str) -> list[str]:
    lexer = shlex.shlex(line, posix=True, punctuation_chars="|&;")
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        return list(lexer)
    except ValueError:  # an unbalanced quote: read it as plain words
        return re.findall(r"[|&;]+|[^\s|&;]+", line)


def _stages(words: list[str]) -> list[tuple[str, list[str]]]:
    """Pipeline stages: (the separator before it, its words)."""
    stages: list[tuple[str, list[str]]] = []
    before, current = "", list[str]()
    for word in words:
        if word in _SEPARATORS:
            if current:
                stages.append((before, current))
            before, current = word, []
        else:
            current.append(word)
    if current:
        stages.append((before, current))
    return stages


def _program(words: list[str]) -> tuple[str, list[str]]:
    """The program a stage runs (wrappers such as sudo and VAR=value assignments set aside) and its args. In
    a sentence ("then run kubectl delete ...") the command starts at the first known program."""
    known = next((n for n, w in enumerate(words) if w.rsplit("/", 1)[-1].lower() in PROGRAMS | FETCHERS), 0)
    n = known
    while n < len(words) and (words[n].lower() in WRAPPERS or re.match(r"^[A-Za-z_]\w*=", words[n])
                              or (words[n].startswith("-") and words[n] != "-")):
        n += 1
    if n == len(words):
        return "", []
    return words[n].rsplit("/", 1)[-1].lower(), words[n + 1 :]


def _replicas_zero(args: list[str]) -> bool:
    for n, arg in enumerate(args):
        if arg in ("--replicas=0", "--replicas=00"):
            return True
        if arg == "--replicas" and n + 1 < len(args) and args[n + 1].strip("0") == "":
            return True
    return False


def _stage_cautions(before: str, prev: str, program: str, args: list[str]) -> list[str]:
    found = []
    lowered = [a.lower() for a in args]
    if before == "|" and prev in FETCHERS and program in SHELLS | {""}:
        found.append(f"runs a downloaded script ({prev} | {program or 'shell'})")
    if program in ("rm", "rmdir", "shred"):
        flags = "".join(a[1:] for a in args if a.startswith("-") and not a.startswith("--"))
        recursive = "r" in flags.lower() or "--recursive" in lowered
        forced = "f" in flags or "--force" in lowered
        if recursive and forced:
            found.append("removes files recursively and without asking (rm -rf)")
    elif program in ("dd", "mkfs") or program.startswith("mkfs."):
        if program != "dd" or any(a.startswith("of=/dev/") for a in args):
            found.append(f"overwrites a disk ({program})")
    elif program == "find" and "-delete" in lowered:
        found.append("deletes the files it finds (find -delete)")
    elif program == "redis-cli" and {"flushall", "flushdb"} & set(lowered):
        found.append("flushes Redis data (FLUSHALL/FLUSHDB)")
    elif program in PROGRAMS:
        verbs = [a for a in lowered if not a.startswith("-")][:4]
        verb = next((v for v in verbs if v in DELETE_VERBS or v.split("-", 1)[0] in DELETE_VERBS), None)
        if verb is not None and not (program == "git" and verb in ("rm",)):
            found.append(f"deletes resources ({program} {verb})")
        if "scale" in verbs and _replicas_zero(args):
            found.append("scales to zero replicas")
        force = [a for a in args if a in ("--force", "--grace-period=0") or a.startswith(("--force=", "--force-"))]
        if force:
            found.append(f"force flag ({force[0]})")
    return found


#: Longest line read as a command (shlex is slow on very long words); a longer line is read up to here.
MAX_COMMAND_CHARS = 2000
#: How much of a text is read for commands (a step is at most a few thousand characters).
MAX_COMMANDS_TEXT = 20_000


def _command_texts(text: str) -> Iterable[str]:
    for line in text[:MAX_COMMANDS_TEXT].splitlines():
        yield line[:MAX_COMMAND_CHARS]


def cautions(text: str) -> list[str]:
    """What makes the commands in the text dangerous to run as written (empty when nothing does)."""
    found: list[str] = []
    for line in _command_texts(text):
        for chunk in [*_CODE_SPAN.findall(line), line]:
            stages = _stages(_words(chunk))
            prev = ""
            for before, words in stages:
                program, args = _program(words)
                found += _stage_cautions(before, prev, program, args)
                prev = program
        if _FETCH_INTO_SHELL.search(line):
            found.append("runs a downloaded script (a shell runs what curl/wget fetched)")
        for match in _SQL_DROP.finditer(line):
            found.append(f"drops or truncates data ({(match.group(1) or match.group(2)).upper()})")
        if _SQL_DELETE.search(line):
            found.append("deletes every row (DELETE without WHERE)")
    return list(dict.fromkeys(found))


def caution_note(reasons: list[str]) -> str:
    """The visible mark put beside a dangerous step (empty when there is nothing to say)."""
    return "**⚠ CAUTION:** " + "; ".join(reasons) + "; check before running." if reasons else ""


# -- one verdict for a line -------------------------------------------------------------------------------


def refusal(text: str, web_links_only: bool = False) -> str | None:
    """Why document (or model) text may not be a step, an answer or a clue; None when it may."""
    if speaks_to_ai(text):
        return "gives instructions to an AI (possible prompt injection)"
    why = markup(text, web_links_only)
    if why:
        return f"carries {why}, not a step"
    return None


# -- rendering --------------------------------------------------------------------------------------------

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_BACKTICKS = re.compile(r"`+")


def _code_spans(line: str) -> list[tuple[int, int]]:
    """The code spans of a line, in order: a run of backticks (not escaped) closed by the next run of the same
    length (CommonMark), found in one pass with a table of runs by length."""
    runs = []
    for m in _BACKTICKS.finditer(line):
        start, length = m.start(), m.end() - m.start()
        if start and line[start - 1] == "\\":  # an escaped backtick opens nothing
            start, length = start + 1, length - 1
        if length:
            runs.append((start, length))
    by_length: dict[int, list[int]] = {}
    for start, length in runs:
        by_length.setdefault(length, []).append(start)
    spans: list[tuple[int, int]] = []
    position: dict[int, int] = {}  # how far along each length's list the pairing has got
    covered = -1
    for start, length in runs:
        if start < covered:
            continue
        starts = by_length[length]
        k = position.get(length, 0)
        while k < len(starts) and starts[k] <= start:
            k += 1
        position[length] = k
        if k < len(starts):
            spans.append((start, starts[k] + length))
            covered = starts[k] + length
            position[length] = k + 1
    return spans


_IMAGE_OPENER = re.compile(r"\\.|!\[")


def _defuse(text: str) -> str:
    """Every ``<`` as ``&lt;`` (no HTML), every ``![`` not already escaped as ``!\\[`` (no image)."""
    text = text.replace("<", "&lt;")
    if "![" not in text:
        return text
    return _IMAGE_OPENER.sub(lambda m: "!\\[" if m.group(0) == "![" else m.group(0), text)


def _inert_line(line: str) -> str:
    """One line outside a code block: image openers and HTML tag openers escaped, code spans left alone."""
    if "`" not in line:
        return _defuse(line)
    out, pos = [], 0
    for start, end in _code_spans(line):
        out += [_defuse(line[pos:start]), line[start:end]]
        pos = end
    out.append(_defuse(line[pos:]))
    return "".join(out)


def inert(markdown: str) -> str:
    """Markdown to render in a browser with nothing fetched: every image (``![alt](address)``, reference
    images) and every HTML tag shown as its text; code blocks and code spans unchanged (they render as text)."""
    out: list[str] = []
    fence: str | None = None
    for line in markdown.split("\n"):
        opener = _FENCE.match(line)
        if fence is not None:
            out.append(line)
            if opener and opener.group(1)[0] == fence[0] and len(opener.group(1)) >= len(fence) and not line[
                opener.end() :
            ].strip():
                fence = None
            continue
        if opener:
            fence = opener.group(1)
            out.append(line)
            continue
        out.append(_inert_line(line))
    return "\n".join(out)
