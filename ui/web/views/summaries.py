"""Summaries: a chat log (stored, or an uploaded file read but never stored) made into a cited postmortem draft
or a catch-up for someone joining the incident, with Markdown downloads. A citation of a stored log links to
the document page at the cited message; one of an uploaded log names its line and time."""

from __future__ import annotations

import datetime as dt
import hashlib
import math

import streamlit as st

from ingest.chatfiles import UploadedChats, read_uploaded_chats
from kb.core.drafts import Draft
from kb.core.enums import Generator
from kb.core.models import Citation, DraftItem, DroppedItem, Kind, Record
from kb.generation.catchup import SECTIONS as CATCHUP_SECTIONS
from kb.generation.catchup import CatchUp, catch_up
from kb.generation.grounding import References
from kb.generation.guard import caution_note
from kb.generation.summary import TEMPLATE, summarize
from ui.web.common import escape, resources, shown_errors
from ui.web.links import document_link

STORED, UPLOADED = "From the knowledge base", "Upload a chat log"
DRAFT, CATCHUP = "Postmortem draft", "Catch-up"


def _stored_chat(chats: list[str], titles: dict[str, str]) -> Record:
    """The stored chat log picked (the one the address names when the picker has no choice yet)."""
    if st.session_state.get("sum_id") not in chats:
        named = st.query_params.get("id")
        st.session_state["sum_id"] = named if named in chats else chats[0]
    chat_id = st.selectbox("Chat log", chats, format_func=lambda i: f"{i} — {titles[i]}", key="sum_id")
    st.query_params["id"] = chat_id  # the address names the chat log: a link to it opens it
    return res.record(chat_id)


def _uploaded_chat() -> Record | None:
    """The chat log in the uploaded file (a channel picked when a Slack export has several), or None; read
    once per upload, kept in this session only."""
    limit_mb = res.settings.max_file_mb
    upload = st.file_uploader(
        "A chat transcript ([YYYY-MM-DD HH:MM:SS] name: message lines), a Markdown postmortem quoting its chat, "
        f"or a Slack export as a zip (up to {limit_mb:g} MB). Read for this summary only, not stored: "
        "ingest it on the Ingest page to keep it.",
        type=["txt", "log", "chat", "md", "markdown", "json", "zip"],
        max_upload_size=max(1, math.ceil(limit_mb)),
        key="sum_upload",
    )
    st.query_params.pop("id", None)  # an uploaded log has no address
    if upload is None:
        return None
    data = upload.getvalue()
    key = hashlib.sha256(upload.name.encode() + b"\0" + data).hexdigest()
    read: tuple[str, UploadedChats] | None = st.session_state.get("sum_read")
    if read is None or read[0] != key:
        with st.spinner(f"Reading {upload.name}..."):
            read = (key, read_uploaded_chats(upload.name, data, res.settings))
        st.session_state["sum_read"] = read
    found = read[1]
    for error in found.errors:  # names come from the upload and its archive: shown as text
        st.error(escape(error))
    if not found.records:
        return None
    if len(found.records) == 1:
        return found.records[0]
    names = {r.id: f"{r.source_key.rsplit('#', 1)[-1]} ({len(r.messages)} messages)" for r in found.records}
    chosen = st.selectbox("Channel", list(names), format_func=names.__getitem__, key="sum_channel")
    return next(r for r in found.records if r.id == chosen)


def _message_at(record: Record, c: Citation) -> tuple[int, str]:
    """(line number, HH:MM) of the cited message in the log's text."""
    line = record.text.count("\n", 0, c.start) + 1
    message = next((m for m in record.messages if m.start <= c.start < max(m.end, m.start + 1)), None)
    when = message.ts.strftime("%H:%M") if message is not None and message.ts else ""
    return line, when


def _cite(record: Record, stored: bool, c: Citation, number: int | None = None) -> str:
    """A citation as shown: a link to the document page at the message (stored logs), else its line and time."""
    line, when = _message_at(record, c)
    mark = f"[{number}]" if number is not None else ""
    if stored:
        return document_link(escape(" ".join(x for x in (mark, when or f"line {line}") if x)), c.doc_id, c.start)
    return escape(" ".join(x for x in (mark, f"line {line}", when) if x))


def _item_line(item: DraftItem, section: str) -> str:
    text = escape(item.text.replace("\n", " "))
    if section == "timeline":
        return f"`{escape(item.time or '')}` **{escape(item.who or '')}**" + (
            f" ({escape(item.kind)})" if item.kind else "") + f": {text}"
    if section == "action items":
        return f"{text} ({escape(item.who or '')})"
    return text


def _show_sections(record: Record, stored: bool, sections: tuple[str, ...], items: list[DraftItem],
                   dropped: list[DroppedItem], *, empty: str, dropped_title: str, numbered: bool) -> None:
    """Items section by section, each line with its citations (numbered as in the Markdown when ``numbered``),
    then what was dropped."""
    refs = References() if numbered else None
    for section in sections:
        st.subheader(section.capitalize())
        chosen = [i for i in items if i.section == section]
        if not chosen:
            st.caption(empty)
        for item in chosen:
            if refs is not None:
                refs.marks(item.citations)
            numbers = [refs.order[(c.doc_id, c.start, c.end)] if refs else None for c in item.citations]
            cites = " ".join(_cite(record, stored, c, n) for c, n in zip(item.citations, numbers, strict=True))
            st.markdown(f"- {_item_line(item, section)} {cites}")
            if item.cautions:
                st.warning(escape(caution_note(item.cautions).replace("**", "")))
    if dropped:
        with st.expander(f"{dropped_title} ({len(dropped)})"):
            for d in dropped:
                st.markdown(escape(f"- {d.text[:160]} ({d.reason})"))


def _show_draft(record: Record, stored: bool, draft: Draft) -> None:
    """The draft section by section, each line with its numbered citations (the numbers of the Markdown)."""
    if draft.note:  # an LLM was asked and its reply set aside
        st.warning(escape(draft.note))
    if draft.generator == Generator.extractive:
        st.caption("Assembled without an LLM: every line is quoted from the chat log and cites its message.")
    else:
        st.caption(escape(f"Written by {draft.model} from the chat log; every citation was checked."))
    _show_sections(record, stored, TEMPLATE, draft.items, draft.dropped, empty="Nothing in the log about this.",
                   dropped_title="Dropped as ungrounded", numbered=True)


def _show_catchup(record: Record, stored: bool, result: CatchUp) -> None:
    st.caption(f"{result.total_messages} messages. Assembled without an LLM: every line quotes its message.")
    _show_sections(record, stored, CATCHUP_SECTIONS, result.items, result.dropped, empty="Nothing yet.",
                   dropped_title="Messages not shown", numbered=False)


def _made(record: Record, mode: str) -> Draft | CatchUp:
    """The draft or catch-up of ``record``, made once per session (an LLM call costs time and money)."""
    made: dict[tuple[str, str, str, str], Draft | CatchUp] = st.session_state.setdefault("sum_made", {})
    key = (record.id, record.content_hash, mode, res.settings.llm_label)
    if key not in made:
        if mode == DRAFT:
            with st.spinner("Summarising the chat log" + (" with the LLM..." if res.llm else "...")):
                made[key] = summarize(record, llm=res.llm)
        else:
            with st.spinner("Catching up on the chat log..."):
                made[key] = catch_up(record, len(record.messages))
    return made[key]


res = resources()
st.title("Incident summaries")

with shown_errors():
    metas = res.record_metas()
    chats = sorted(res.ids_of(Kind.chat), key=lambda i: (-(metas[i].date or dt.date.min).toordinal(), i))
    if "sum_source" not in st.session_state:
        st.session_state["sum_source"] = STORED if chats or st.query_params.get("id") else UPLOADED
    source = st.radio("Chat log", [STORED, UPLOADED], horizontal=True, key="sum_source",
                      label_visibility="collapsed")
    stored = source == STORED
    record: Record | None = None
    if stored and not chats:
        st.info("No chat logs in the knowledge base yet: upload one here, or add some on the Ingest page.")
    elif stored:
        record = _stored_chat(chats, {i: metas[i].title for i in chats})
    else:
        record = _uploaded_chat()
    if record is not None:
        mode = st.radio("What", [DRAFT, CATCHUP], horizontal=True, key="sum_mode",
                        captions=["timeline, first signal, fix, recovery, action items",
                                  "what happened so far, for someone joining the incident"])
        result = _made(record, mode)
        name = record.id if stored else record.id + "-upload"
        if isinstance(result, Draft):
            st.header(escape(result.title))
            st.download_button("Download the draft (Markdown)", result.markdown, f"{name}-postmortem-draft.md",
                               mime="text/markdown", key="sum-download", type="primary")
            _show_draft(record, stored, result)
        else:
            st.header(escape(f"Catch-up: {record.title}"))
            st.download_button("Download the catch-up (Markdown)", result.markdown, f"{name}-catch-up.md",
                               mime="text/markdown", key="sum-download", type="primary")
            _show_catchup(record, stored, result)
