"""The web UI: `kb ui` (or `streamlit run ui/web/app.py`). One page per task, on the same library as the CLI."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from ui.web import common

HERE = Path(__file__).parent / "views"

# a local file: a Material icon name here would make the browser fetch the tab icon from a font host
st.set_page_config(page_title="Incident knowledge base", page_icon=HERE.parent / "static" / "icon.svg", layout="wide")
pages = {
    "search": st.Page(HERE / "search.py", title="Search", icon=":material/search:", default=True),
    "ask": st.Page(HERE / "ask.py", title="Ask", icon=":material/forum:"),
    "document": st.Page(HERE / "document.py", title="Incident / document", icon=":material/description:"),
    "runbooks": st.Page(HERE / "runbooks.py", title="Runbooks", icon=":material/menu_book:"),
    "summaries": st.Page(HERE / "summaries.py", title="Summaries", icon=":material/summarize:"),
    "gameday": st.Page(HERE / "gameday.py", title="Game day", icon=":material/sports_esports:"),
    "ingest": st.Page(HERE / "ingest.py", title="Ingest", icon=":material/upload:"),
    "insights": st.Page(HERE / "insights.py", title="Insights", icon=":material/insights:"),
}
common.PAGES.update(pages)
navigation = st.navigation(list(pages.values()))
with common.shown_errors():
    common.sidebar(common.resources())
navigation.run()
