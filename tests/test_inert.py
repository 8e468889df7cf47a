"""Document text rendered as Markdown in the web UI fetches nothing: images and HTML are shown as text.

Fast: ``kb.generation.markup.inert`` itself. Slow: every page rendered with AppTest over a store holding a document full
of remote images, and every string the pages hand to a Markdown-rendering element checked."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kb.generation.markup import inert
from tests.conftest import ROOT

IMAGE = "http://127.0.0.1:9/pixel.png"
IMAGES_DOC = "2025-04-04-image-probe"
IMAGES = f"""---
title: Image probe postmortem ![t]({IMAGE}?title)
date: 2025-04-04
kind: postmortem
services: [checkout]
severity: SEV3
alerts: [ImageProbe]
---
# Image probe postmortem

## Summary

The checkout image probe shows ![a pixel]({IMAGE}?inline) and a reference image ![ref pixel][px].
An HTML image <img src="{IMAGE}?html"> and <IMG SRC={IMAGE}?upper> and a picture
<picture><source srcset="{IMAGE}?srcset"></picture> stay text. Code keeps its form: `![code]({IMAGE})`.

[px]: {IMAGE}?reference

## Timeline

- 10:00 ![timeline pixel]({IMAGE}?timeline) ImageProbe fired for checkout.
- 10:05 Restarted the checkout image probe.

## Root cause

The checkout image probe loads a remote pixel ![cause]({IMAGE}?cause).

## Resolution

Restarted the checkout image probe with `kubectl -n checkout rollout restart deploy/image-probe`.

### ![heading pixel]({IMAGE}?heading)

```
![fenced]({IMAGE}?fenced) <img src="{IMAGE}?fenced-html">
```
"""

#: an image Markdown would render: "![" not escaped, or an HTML tag that a renderer with HTML on would load
LIVE_IMAGE = re.compile(r"(?<!\\)!\[|<\s*(?:img|picture|source|svg|image|video|audio|iframe)\b", re.I)


def live_images(markdown: str) -> list[str]:
    """Images a CommonMark renderer would load from ``markdown`` (outside code)."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": True})
    found = []
    for token in md.parse(markdown):
        for child in [token, *(token.children or [])]:
            if child.type == "image":
                found.append(str(child.attrs.get("src")))
            elif child.type in ("html_inline", "html_block") and LIVE_IMAGE.search(child.content):
                found.append(child.content)
    return found


@pytest.mark.parametrize("text", [
    f"![alt]({IMAGE})", f"![alt][r]\n\n[r]: {IMAGE}", f'<img src="{IMAGE}">', f"a ![x]({IMAGE}) b",
    f"- item ![x]({IMAGE})", f"> quote <img src={IMAGE}>", f"`code` then ![x]({IMAGE})",
    f"``not closed ![x]({IMAGE})", f"\\`x ![x]({IMAGE})`", f"<svg><image href='{IMAGE}'/></svg>",
    f"[![badge]({IMAGE})](https://example.com)", IMAGES,
])
def test_inert_markdown_loads_no_image(text: str) -> None:
    assert live_images(text), "the probe must load something before"
    assert live_images(inert(text)) == []


def test_inert_keeps_alt_text_addresses_and_code() -> None:
    shown = inert(f"see ![the graph]({IMAGE}) and `<b>{IMAGE}</b>`\n```\n<img src=x>\n```\n**bold** [link](https://x.example)")
    assert "the graph" in shown and IMAGE in shown
    assert f"`<b>{IMAGE}</b>`" in shown and "\n<img src=x>\n" in shown
    assert "**bold** [link](https://x.example)" in shown


def kb_cli(store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_") or k == "KB_CACHE_DIR"}
    return subprocess.run([sys.executable, "-m", "ui.cli.main", "--data-dir", str(store), *args], env=env,
                          capture_output=True, text=True, cwd=ROOT, timeout=600, check=False)


def markdown_strings(at) -> list[str]:  # type: ignore[no-untyped-def]
    """Every string the page hands to an element that renders Markdown (bodies and labels)."""
    out = []
    for kind in ("markdown", "caption", "info", "success", "warning", "error", "title", "header", "subheader"):
        out += [str(e.value) for e in getattr(at, kind)]
    for kind in ("expander", "button", "tabs", "metric", "toggle", "checkbox"):
        for e in getattr(at, kind, []):
            out.append(str(getattr(e, "label", "")))
    return out


@pytest.mark.slow
def test_no_page_renders_a_document_image(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    corpus = tmp_path / "corpus" / "postmortems"
    corpus.mkdir(parents=True)
    (corpus / f"{IMAGES_DOC}.md").write_text(IMAGES, encoding="utf-8")
    store = tmp_path / "store"
    assert kb_cli(store, "ingest", str(corpus.parent)).returncode == 0
    monkeypatch.setenv("KB_DATA_DIR", str(store))
    at = AppTest.from_file(str(ROOT / "ui" / "web" / "app.py"), default_timeout=180)
    at.run()
    seen: list[str] = []

    def check(where: str) -> None:
        assert not at.exception, (where, [e.value for e in at.exception])
        strings = markdown_strings(at)
        seen.extend(strings)
        live = [(s[:120], live_images(s)) for s in strings if live_images(s)]
        assert not live, (where, live)

    at.text_area(key="search_box").input("checkout image probe pixel")
    at.button(key="search_button").click().run()
    check("search")
    at.switch_page("views/document.py")
    at.session_state["doc_id"] = IMAGES_DOC
    at.run()
    check("document")
    at.switch_page("views/runbooks.py").run()
    at.text_input(key="topic").input("checkout image probe").run()
    at.button(key="draft-go").click().run()
    check("runbook draft")
    at.switch_page("views/ask.py").run()
    at.chat_input(key="ask_input").set_value("what did the checkout image probe load?").run()
    check("ask")
    at.switch_page("views/gameday.py").run()
    check("game day")
    assert any(IMAGE in s for s in seen), "the document's image addresses are shown as text"
