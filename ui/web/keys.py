"""Enter to send a text area's form, Shift+Enter for a new line: what a chat box does, for a box that also has a
labelled button.

Streamlit's text area sends its form on Ctrl+Enter (Cmd+Enter) only, and a button's keyboard shortcut is not
heard while the user types in a box, so a short script of the page's own does it: on Enter (no Shift, Ctrl, Alt
or Cmd, not while an input method composes a character) in the text area keyed ``box`` it clicks the button keyed
``button``, the same click a mouse makes, which sends the text area's current text with the form. The script is
fixed text (only the two keys, checked, go into it) and loads nothing. Should it not run, nothing breaks: Enter
adds a line, and the button and Ctrl+Enter still send the form. While it runs, Streamlit's own hint in the box
("Press Ctrl+Enter to submit form") is hidden, since the page says what Enter does. The script runs once per
browser tab: it stands down when ``window.kbEnterSends_<box>`` is already set.
"""

from __future__ import annotations

import re

import streamlit as st

_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")

_SCRIPT = """<style>
html.kb-enter-sends-BOX .st-key-BOX [data-testid="InputInstructions"] { display: none; }
</style>
<script>
(() => {
  const flag = "kbEnterSends_BOX";
  if (window[flag]) { return; }
  window[flag] = true;
  document.documentElement.classList.add("kb-enter-sends-BOX");
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || event.shiftKey || event.ctrlKey || event.metaKey || event.altKey
        || event.isComposing || event.keyCode === 229) { return; }
    const box = event.target;
    if (!(box instanceof HTMLTextAreaElement) || !box.closest(".st-key-BOX")) { return; }
    const button = document.querySelector(".st-key-BUTTON button");
    if (!button || button.disabled) { return; }
    event.preventDefault();
    event.stopPropagation();
    button.click();
  }, true);
})();
</script>"""


def marker(box: str) -> str:
    """The class the script puts on the page's ``<html>`` once Enter in the text area keyed ``box`` sends it (what
    a page test or benchmark waits for before pressing Enter)."""
    return f"kb-enter-sends-{box}"


def enter_sends(box: str, button: str) -> None:
    """Make Enter in the text area keyed ``box`` click the button keyed ``button`` (Shift+Enter stays a new
    line). Call it once per run of the page, anywhere on it: it draws nothing."""
    for key in (box, button):
        if not _KEY.fullmatch(key):
            raise ValueError(f"not a widget key for the script: {key!r}")
    st.html(_SCRIPT.replace("BOX", box).replace("BUTTON", button), unsafe_allow_javascript=True, width="content")
