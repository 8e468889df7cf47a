"""HTML documents: Confluence space exports ("Export space -> HTML"), Confluence storage format (the XHTML
with ``ac:``/``ri:`` macros that the editor and the REST API keep), Google Docs' "Download -> Web page", and
other HTML pages.

Parsed with BeautifulSoup and lxml's HTML parser (linear in time; Python's own parser took minutes on 200 KB
of unclosed ``<a `` tags): nothing is fetched (no images, stylesheets or links), no DTD is loaded and no
entity beyond HTML's named characters is resolved. CDATA sections are turned into escaped text first.
Page chrome (breadcrumbs, navigation, the "Created by ..., last modified on ..." line, attachment and label
lists, footers, comments) is dropped after its metadata is read; the content becomes Markdown
(``converted``).
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from bs4 import BeautifulSoup, NavigableString, Tag

from ingest.extract import written_days
from ingest.sources.base import ParseOptions, decode_text, read_bytes
from ingest.sources.converted import markdown_record, to_markdown
from ingest.sources.css_fonts import monospace_classes
from kb.core.errors import EmptyDocument, ParseError
from kb.core.models import Record

EXTENSIONS = (".html", ".htm", ".xhtml")

#: Confluence macros that only build navigation or lists of other pages: no text of their own
_NAVIGATION_MACROS = {
    "toc", "children", "pagetree", "recently-updated", "anchor", "attachments", "contentbylabel",
    "content-report-table", "livesearch", "pagetreesearch", "space-details", "profile", "create-from-template",
}  # fmt: skip
_PANELS = {"info": "Info", "note": "Note", "warning": "Warning", "tip": "Tip", "panel": "", "success": "Success"}
_RENDERED_PANELS = {"information": "Info", "note": "Note", "warning": "Warning", "tip": "Tip", "success": "Success"}
#: deeper than any exported page (Confluence's chrome and a nested list inside a table reach about 30), shallow
#: enough for the HTML -> Markdown converter, which recurses a few frames per level
MAX_DEPTH = 150
#: elements that are never content
_NEVER_CONTENT = ["script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "canvas", "form"]


def parse(path: Path, options: ParseOptions) -> list[Record]:
    """One record for one HTML file."""
    data = read_bytes(path, options)
    text = decode_text(path, data)
    body, front, fmt = convert(path, text)
    # Confluence names exported pages "Title_<page id>.html": the id is left out of the record's id
    stem = re.sub(r"_\d{4,}$", "", path.stem) if fmt == "confluence" else path.stem
    return [
        markdown_record(path=path, data=data, body=body, front=front, fmt=fmt, options=options, record_id=stem or None)
    ]


def convert(path: Path, text: str) -> tuple[str, dict[str, object], str]:
    """(Markdown, metadata, format name) of an HTML document; ParseError when it is no HTML document or
    holds no text once its page chrome is gone."""
    soup = BeautifulSoup(_cdata_as_text(text), "lxml")
    if re.search(r"<[A-Za-z]", text) is None or soup.find(True) is None:
        raise ParseError(str(path), "not an HTML document: no HTML elements in it")
    if _nesting(soup) > MAX_DEPTH:
        raise ParseError(str(path), f"HTML elements nested more than {MAX_DEPTH} levels deep; not read")
    monospace = monospace_classes(soup)
    for tag in soup.find_all(_NEVER_CONTENT):
        tag.decompose()
    if _is_confluence_export(soup):
        root, front = _confluence_export(soup)
        fmt = "confluence"
    elif soup.find(re.compile(r"^(ac|ri):")) is not None:
        root, front = soup, {}
        fmt = "confluence"
    elif _is_google_doc(soup):
        root, front = _google_doc(soup, monospace)
        fmt = "google-docs"
    else:
        root, front = _plain_page(soup)
        fmt = "html"
    _storage_macros(root)
    _rendered_macros(root)
    markdown = to_markdown(root)
    if not re.search(r"\w", markdown):
        where = {"confluence": "Confluence page", "google-docs": "Google Docs document"}.get(fmt, "HTML page")
        why = f"no document text in this {where} once its navigation and page chrome are removed"
        raise EmptyDocument(str(path), why)
    return markdown, front, fmt


def _cdata_as_text(text: str) -> str:
    """CDATA sections (the body of a Confluence code macro) as escaped text, which the HTML parser keeps;
    found with ``str.find``, in linear time."""
    if "<![CDATA[" not in text:
        return text
    out: list[str] = []
    at = 0
    while (start := text.find("<![CDATA[", at)) >= 0:
        end = text.find("]]>", start + 9)
        if end < 0:
            break
        out += [text[at:start], html.escape(text[start + 9 : end], quote=False)]
        at = end + 3
    out.append(text[at:])
    return "".join(out)


def _nesting(soup: BeautifulSoup) -> int:
    """How deep elements nest, without recursion (stops counting past MAX_DEPTH)."""
    deepest = 0
    stack: list[tuple[Tag, int]] = [(soup, 0)]
    while stack:
        tag, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            break
        stack.extend((child, depth + 1) for child in tag.children if isinstance(child, Tag))
    return deepest


def _text(tag: Tag | None) -> str:
    return " ".join(tag.get_text(" ").split()) if tag is not None else ""


def _drop(root: Tag | BeautifulSoup, *selectors: str) -> None:
    for selector in selectors:
        for tag in root.select(selector):
            tag.decompose()


# --- Confluence space export ---------------------------------------------------------------------------


def _is_confluence_export(soup: BeautifulSoup) -> bool:
    if soup.select_one("#main-content.wiki-content, #title-heading.pagetitle, div.page-metadata") is not None:
        return True
    generator = soup.find("meta", attrs={"name": re.compile("confluence", re.I)})
    return generator is not None


def _confluence_export(soup: BeautifulSoup) -> tuple[Tag | BeautifulSoup, dict[str, object]]:
    """The page's content and its metadata: title (without the space name in front), author, last
    modification day, labels; breadcrumbs, header, metadata line, attachments, labels and footer dropped."""
    crumbs = [_text(li) for li in soup.select("#breadcrumbs li")]
    title = _text(soup.select_one("#title-text")) or _text(soup.find("title"))
    space = crumbs[0] if crumbs else ""
    if space and title.startswith(f"{space} : "):
        title = title[len(space) + 3 :].strip()
    front: dict[str, object] = {"title": title} if title else {}
    meta = soup.select_one("div.page-metadata")
    if meta is not None:
        author = _text(meta.select_one(".author"))
        editor = _text(meta.select_one(".editor"))
        front["author"] = author or editor
        front["owner"] = author or editor
        if editor:
            front["last_modified_by"] = editor
        days = written_days(_text(meta))  # "Created by A, last modified by B on Mar 14, 2024": the last day written
        if days:
            front["date"] = front["last_modified"] = days[-1][0]
    labels = [_text(a) for a in soup.select('a[rel~="tag"], .label-list li, ul.labels li')]
    labels = list(dict.fromkeys(label for label in labels if label))
    if labels:
        front["labels"] = labels
        front["tags"] = labels
    if space:
        front["space"] = space
    root = soup.select_one("#main-content") or soup.select_one("#content") or soup.body or soup
    _drop(root, "#breadcrumb-section", "#main-header", "div.page-metadata", ".pageSection", "#labels-section")
    _drop(root, "#footer", "footer", "nav", "#navigation", ".aui-icon", "#likes-and-labels-container")
    _drop(root, ".toc-macro", ".expand-control")
    return root, front


def _rendered_macros(root: Tag | BeautifulSoup) -> None:
    """Confluence's rendered panels and code blocks as Markdown understands them: an info/note/warning
    panel becomes a quote opening with its kind, a code panel's title a line before its code."""
    for panel in root.select("div.confluence-information-macro"):
        kinds = [c.rsplit("-", 1)[1] for c in panel.get_attribute_list("class") if c and "-macro-" in c]
        label = _RENDERED_PANELS.get(kinds[0] if kinds else "", "")
        title = panel.select_one(".title")
        heading = _text(title)
        if title is not None:
            title.decompose()
        body = panel.select_one(".confluence-information-macro-body") or panel
        _as_quote(root, panel, label, heading, list(body.children))
    for header in root.select("div.codeHeader"):
        line = root_soup(root).new_tag("p")
        line.string = _text(header)
        header.replace_with(line)


def root_soup(tag: Tag | BeautifulSoup) -> BeautifulSoup:
    """The document a tag belongs to (to make new tags in)."""
    node: Tag | BeautifulSoup = tag
    while node.parent is not None:
        node = node.parent
    assert isinstance(node, BeautifulSoup)
    return node


def _as_quote(root: Tag | BeautifulSoup, macro: Tag, label: str, title: str, content: list[object]) -> None:
    soup = root_soup(root)
    quote = soup.new_tag("blockquote")
    opening = " ".join(part for part in (f"{label}:" if label else "", title) if part)
    if opening:
        first = soup.new_tag("p")
        strong = soup.new_tag("strong")
        strong.string = opening
        first.append(strong)
        quote.append(first)
    for node in content:
        if isinstance(node, (Tag, NavigableString)):
            quote.append(node.extract())
    macro.replace_with(quote)


# --- Confluence storage format ---------------------------------------------------------------------------


def _param(macro: Tag, name: str) -> str:
    for param in macro.find_all("ac:parameter", recursive=False):
        if param.get("ac:name") == name:
            return _text(param)
    return ""


def _storage_macros(root: Tag | BeautifulSoup) -> None:
    """Storage-format elements as plain HTML: a code macro becomes ``<pre><code>`` with its language, panels a
    quote, links their text, task lists lists; navigation macros, images and emoticons are dropped."""
    soup = root_soup(root)
    for macro in reversed(root.find_all(["ac:structured-macro", "ac:macro"])):  # innermost first
        name = str(macro.get("ac:name") or "").lower()
        plain = macro.find("ac:plain-text-body")
        rich = macro.find("ac:rich-text-body")
        if name in _NAVIGATION_MACROS:
            macro.decompose()
        elif name in {"code", "noformat"} or (plain is not None and rich is None):
            pre, code = soup.new_tag("pre"), soup.new_tag("code")
            language = _param(macro, "language")
            if language and re.fullmatch(r"[\w+#-]{1,30}", language):
                code["class"] = f"language-{language}"
            code.string = plain.get_text() if plain is not None else ""
            pre.append(code)
            title = _param(macro, "title")
            macro.replace_with(pre)
            if title:  # the block's caption, a line before it as in Confluence's own rendering
                caption = soup.new_tag("p")
                caption.string = title
                pre.insert_before(caption)
        elif name in _PANELS:
            _as_quote(root, macro, _PANELS[name], _param(macro, "title"), list(rich.children) if rich else [])
        elif name == "status":
            macro.replace_with(_param(macro, "title") or _param(macro, "colour"))
        elif name == "jira":
            macro.replace_with(_param(macro, "key"))
        elif rich is not None:  # expand, section, column and the like: their content
            for param in macro.find_all("ac:parameter", recursive=False):
                param.decompose()
            rich.unwrap()
            macro.unwrap()
        else:
            macro.decompose()
    for link in root.find_all("ac:link"):
        shown = link.find(["ac:plain-text-link-body", "ac:link-body"])
        target = link.find(["ri:page", "ri:attachment", "ri:blog-post", "ri:space"])
        words = _text(shown) if shown is not None else ""
        if not words and target is not None:
            words = str(target.get("ri:content-title") or target.get("ri:filename") or target.get("ri:space-key") or "")
        link.replace_with(words)
    for task_list in root.find_all("ac:task-list"):
        items = soup.new_tag("ul")
        for task in task_list.find_all("ac:task"):
            item = soup.new_tag("li")
            done = _text(task.find("ac:task-status")) == "complete"
            item.string = ("[x] " if done else "[ ] ") + _text(task.find("ac:task-body"))
            items.append(item)
        task_list.replace_with(items)
    for stamp in root.find_all("time"):
        stamp.replace_with(str(stamp.get("datetime") or _text(stamp)))
    for tag in root.find_all(["ac:image", "ac:emoticon", "ac:placeholder", "ac:parameter"]):
        tag.decompose()
    for tag in root.find_all(re.compile(r"^(ac|ri):")):
        if tag.name.startswith("ri:"):
            tag.decompose()
        else:
            tag.unwrap()


# --- Google Docs and other pages ---------------------------------------------------------------------------


def _is_google_doc(soup: BeautifulSoup) -> bool:
    body = soup.body
    if body is not None and "doc-content" in body.get_attribute_list("class"):
        return True
    return soup.find(id=re.compile(r"^h\.[0-9a-z]+$")) is not None and soup.find("p", class_="title") is not None


def _code_runs(soup: BeautifulSoup, root: Tag | BeautifulSoup, monospace: set[str]) -> None:
    """Text in a monospace font as code: a paragraph all in it a code block (consecutive ones one block),
    a run inside other text inline code."""

    def mono(span: Tag) -> bool:
        return any(c in monospace for c in span.get_attribute_list("class") if c)

    block: Tag | None = None
    for para in root.find_all("p"):
        spans = [s for s in para.find_all("span") if s.get_text().strip()]
        if spans and all(mono(s) for s in spans) and not para.find_parent(["table", "li"]):
            lines = para.get_text()
            previous = para.find_previous_sibling()
            if block is not None and previous is block:
                block.code.append("\n" + lines)  # type: ignore[union-attr]
                para.decompose()
                continue
            block, code = soup.new_tag("pre"), soup.new_tag("code")
            code.string = lines
            block.append(code)
            para.replace_with(block)
            continue
        for span in spans:
            if mono(span):
                span.name = "code"


def _google_doc(soup: BeautifulSoup, monospace: set[str]) -> tuple[Tag | BeautifulSoup, dict[str, object]]:
    """Content and title of a Google Docs web page export; comments and their anchors dropped, text in a
    monospace font kept as code."""
    root = soup.body or soup
    front: dict[str, object] = {}
    title = root.find("p", class_="title")
    if title is not None and _text(title):
        front["title"] = _text(title)
        heading = soup.new_tag("h1")
        heading.string = _text(title)
        title.replace_with(heading)
    elif _text(soup.find("title")):
        front["title"] = _text(soup.find("title"))
    subtitle = root.find("p", class_="subtitle")
    if subtitle is not None:
        front["subtitle"] = _text(subtitle)
    for anchor in root.find_all("a", id=re.compile(r"^cmnt\d+$")):  # a comment, at the end of the page
        holder = anchor.find_parent("div")
        (holder or anchor).decompose()
    for anchor in root.find_all("a", href=re.compile(r"^#cmnt\d+$")):  # where a comment is anchored
        (anchor.find_parent("sup") or anchor).decompose()
    _code_runs(soup, root, monospace)
    return root, front


def _plain_page(soup: BeautifulSoup) -> tuple[Tag | BeautifulSoup, dict[str, object]]:
    """Any other page: its main content (``<main>``, ``<article>`` or the body) without navigation."""
    front: dict[str, object] = {}
    title = _text(soup.find("title"))
    if title:
        front["title"] = title
    author = soup.find("meta", attrs={"name": "author"})
    if isinstance(author, Tag) and author.get("content"):
        front["author"] = front["owner"] = str(author["content"])
    keywords = soup.find("meta", attrs={"name": "keywords"})
    if isinstance(keywords, Tag) and keywords.get("content"):
        front["tags"] = [k.strip() for k in str(keywords["content"]).split(",") if k.strip()]
    root = soup.find("main") or soup.find("article") or soup.body or soup
    _drop(root, "nav", "header", "footer", "aside", '[role="navigation"]', '[role="banner"]', '[role="contentinfo"]')
    return root, front
