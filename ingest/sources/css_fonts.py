"""Which CSS classes of an HTML page set text in a monospace font: how Google Docs' and Word's web page exports
mark code (they style runs by class, not with ``<code>``). Read from CSS semantics and the page's own style
sheet; no font names are listed here."""

from __future__ import annotations

import functools
import re
import shutil
import subprocess

from bs4 import BeautifulSoup

#: a CSS rule: its selectors and its declarations (``.c1{font-family:"Courier New"}``, ``code, pre{...}``)
_CSS_RULE = re.compile(r"([^{}@;]+)\{([^{}]*)\}")
#: an ``@font-face`` rule (Word declares each font it uses with one, PANOSE number included)
_FONT_FACE = re.compile(r"@font-face\s*\{([^{}]*)\}", re.I)
_DECLARATION = re.compile(r"([\w-]+)\s*:\s*([^;]*)")
#: the elements HTML sets in the generic monospace family (the UA style sheet): what a page's code looks like
_CODE_ELEMENTS = frozenset({"code", "pre", "kbd", "samp", "tt"})
#: the PANOSE proportion digit for fixed-pitch fonts (the fourth of ten numbers)
_PANOSE_MONOSPACED = "9"
_CSS_TEXT_LIMIT = 200_000
#: at most this many distinct font families of one page are asked of fontconfig (a hostile page may name
#: thousands, each a process start); a real export uses a handful
_FONTCONFIG_LOOKUPS = 16


def _declarations(block: str) -> dict[str, str]:
    return {m.group(1).lower(): m.group(2).strip() for m in _DECLARATION.finditer(block)}


def _families(value: str) -> list[str]:
    """The families of a CSS ``font-family`` list, unquoted and lower-cased, in order."""
    return [f.strip().strip("\"'").strip().lower() for f in value.split(",") if f.strip().strip("\"'").strip()]


@functools.lru_cache(maxsize=256)
def _fixed_pitch(family: str) -> bool:
    """Whether the system's font configuration (fontconfig) resolves ``family`` to a fixed-pitch font: how a
    family named without a generic fallback is read (Google Docs writes ``font-family:"Courier New"`` alone).
    False where fontconfig is not installed."""
    fc_match = shutil.which("fc-match")
    if fc_match is None or not family or any(ch in family for ch in ":\n"):
        return False
    try:
        done = subprocess.run(
            [fc_match, "--format", "%{spacing}", family], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return False
    # fontconfig's spacing: 100 monospace, 110 charcell (90 dual-width is proportional Latin)
    return done.returncode == 0 and done.stdout.strip() in {"100", "110"}


def monospace_classes(soup: BeautifulSoup) -> set[str]:
    """Classes the page's style sheets set in a monospace font (how Google Docs and Word mark code): a
    ``font-family`` list naming the generic family ``monospace``, a family the sheet itself gives code
    elements (``code``, ``pre``...) or declares fixed-pitch (an ``@font-face`` PANOSE proportion of 9), or a
    family the system's font configuration resolves to a fixed-pitch font."""
    sheet = "\n".join(style.get_text() for style in soup.find_all("style"))[:_CSS_TEXT_LIMIT]
    code_families = {"monospace", "ui-monospace"}  # CSS generic families
    for face in _FONT_FACE.finditer(sheet):
        declared = _declarations(face.group(1))
        panose = declared.get("panose-1", "").split()
        if len(panose) == 10 and panose[3] == _PANOSE_MONOSPACED:
            code_families.update(_families(declared.get("font-family", "")))
    sheet = _FONT_FACE.sub("", sheet)
    classes: dict[str, list[str]] = {}
    for rule in _CSS_RULE.finditer(sheet):
        families = _families(_declarations(rule.group(2)).get("font-family", ""))
        if not families:
            continue
        for selector in rule.group(1).split(","):
            selector = selector.strip()
            if selector.lower() in _CODE_ELEMENTS:
                code_families.update(families)
            elif selector.startswith(".") and selector[1:].replace("-", "").replace("_", "").isalnum():
                classes[selector[1:]] = families
    alone = sorted({families[0] for families in classes.values() if len(families) == 1} - code_families)
    code_families.update(f for f in alone[:_FONTCONFIG_LOOKUPS] if _fixed_pitch(f))
    return {name for name, families in classes.items() if any(f in code_families for f in families)}
