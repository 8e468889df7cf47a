"""Runbooks: staleness, drafts (streamed with an LLM), update proposals reviewed as cited diffs,
approval into a new revision, history and downloads."""

from __future__ import annotations

import streamlit as st

from ingest.revisions import apply_proposal
from kb.core.drafts import Draft, StaleRunbook
from kb.core.enums import Generator
from kb.core.errors import KBError
from kb.core.models import Kind
from kb.generation.grounding import References
from kb.generation.guard import caution_note
from kb.generation.markup import inert
from kb.retrieval.alerts import AlertParseError, parse_alert
from kb.runbooks.draft import draft_runbook, render_runbook
from kb.runbooks.proposals import proposal_file
from kb.runbooks.revisions import history, runbook_markdown
from kb.runbooks.stale import stale_runbooks
from kb.runbooks.update import propose_update
from ui.web.common import escape, open_document, resources, shown_errors
from ui.web.links import RUNBOOK_VIEWS, citation_links, marker_link


def linked_draft(draft: Draft) -> str:
    """The draft's Markdown with every citation mark and reference a link to the cited passage."""
    records = [res.record(doc_id) for doc_id in draft.sources]
    return render_runbook(draft.title, draft.items, draft.dropped, records, draft.generator, draft.model,
                          refs=References(mark=marker_link), note=draft.note)


res = resources()
st.title("Runbooks")

with shown_errors():
    metas = res.record_metas()
    books = res.ids_of(Kind.runbook)
    # the address names the view (?view=Draft+a+runbook), so a link or a reload lands on it
    tab_list, tab_draft, tab_update = st.tabs(list(RUNBOOK_VIEWS), key="view", bind="query-params")
    stale: dict[str, StaleRunbook] = {}
    if books and not tab_draft.open:
        with st.spinner("Looking for incidents since each runbook last changed..."):
            stale = {s.runbook_id: s for s in stale_runbooks(res)}

    with tab_list:
        if not books:
            st.info("No runbooks yet.")
        order = sorted(books, key=lambda r: -(stale[r].incidents if r in stale else 0))
        table = st.dataframe(
            [
                {
                    "runbook": rid,
                    "title": metas[rid].title,
                    "incidents since last change": stale[rid].incidents if rid in stale else 0,
                    "newest incident": str(stale[rid].newest_date or "") if rid in stale else "",
                }
                for rid in order
            ],
            hide_index=True,
            width="stretch",
            key="rb_table",
            on_select="rerun",
            selection_mode="single-row",
        )
        if books:
            st.caption("Select a row to open its runbook.")
        picked = table.selection.rows
        if picked and picked[0] < len(order):
            open_document(order[picked[0]])
        chosen = st.selectbox("Download or see the revisions of", ["", *books], key="rb_open")
        if chosen:
            cols = st.columns(3)
            if cols[0].button("Show", key="rb-show"):
                open_document(chosen)
            record = res.record(chosen)
            cols[1].download_button(
                "Download Markdown", runbook_markdown(record), f"{chosen}.md", key="rb-download"
            )
            revisions = history(res.settings, chosen)
            if revisions:
                st.markdown("**Revisions**")
                for rev in revisions:
                    st.markdown(f"- r{rev.number} · {rev.created:%Y-%m-%d %H:%M} · {escape(rev.note)}")

    with tab_draft:
        # the topic lives in the address too (?topic=...): "Draft a runbook from it" fills it, a reload keeps it
        topic = st.text_input("Topic: symptoms, alert or failure mode", key="topic", bind="query-params")
        alert_text = st.text_area("…or paste an alert (optional)", key="draft_alert", height=80)
        services = res.services()
        service = st.selectbox("Service (optional)", ["", *services], key="draft_service")
        if st.button("Draft", type="primary", key="draft-go"):
            alert = None
            if alert_text.strip():
                try:
                    alert = parse_alert(alert_text, "the pasted alert")
                except AlertParseError as exc:
                    st.error(inert(str(exc)))
            if topic.strip() or alert is not None:
                box = st.empty()
                streamed: list[str] = []

                def show(piece: str) -> None:
                    streamed.append(piece)
                    box.code("".join(streamed)[-3000:], language="json")

                with st.spinner("Drafting from the runbooks, postmortems and chat logs about it..."):
                    draft = draft_runbook(
                        res, topic.strip() or None, alert=alert, service=service or None, llm=res.llm, on_text=show
                    )
                box.empty()
                st.session_state["draft"] = draft
        shown = st.session_state.get("draft")
        if shown is not None:
            draft = shown
            if draft.note:  # an LLM was asked and its reply set aside
                st.warning(escape(draft.note))
            if draft.generator == Generator.extractive:
                st.caption("Assembled without an LLM: every step is quoted from its source.")
            else:
                st.caption(f"Written by {draft.model}; every step's citations were checked.")
            if draft.dropped:
                st.warning(f"{len(draft.dropped)} ungrounded lines were dropped (listed at the end).")
            st.download_button("Download Markdown", draft.markdown, "runbook-draft.md", key="draft-download")
            with st.container(border=True, key="draft-body"):
                # rendered with images and HTML shown as text; each citation mark links to its passage
                st.markdown(inert(linked_draft(draft)))

    with tab_update:
        target = st.selectbox(
            "Runbook",
            ["", *books],
            key="upd_runbook",
            format_func=lambda r: (
                f"{r} ({stale[r].incidents} incident{'' if stale[r].incidents == 1 else 's'} since)"
                if r in stale
                else r
            ),
        )
        if target and st.button("Propose an update", key="upd-go"):
            st.session_state["proposal"] = propose_update(res.settings, res, target, llm=res.llm)
        proposal = st.session_state.get("proposal")
        if proposal is not None and proposal.runbook_id == target:
            if proposal.note:  # an LLM was asked and its reply set aside
                st.warning(escape(proposal.note))
            if not proposal.diff:
                st.success("Nothing to propose: the runbook already covers what responders did since it changed.")
            else:
                view = st.radio("View", ["Unified diff", "Side by side"], horizontal=True, key="upd_view")
                if view == "Unified diff":
                    st.code(proposal.diff, language="diff")
                else:
                    left, right = st.columns(2)
                    left.caption("Current")
                    left.code(proposal.old_markdown, language="markdown")
                    right.caption("Proposed")
                    right.code(proposal.new_markdown, language="markdown")
                st.markdown("**Why each change**")
                for item in proposal.items:
                    st.markdown(
                        f"- *{escape(item.section)}*: {escape(item.text.splitlines()[0][:160])} ← "
                        + citation_links(item.citations)
                        + (f"  \n  {escape(caution_note(item.cautions).replace('**', ''))}" if item.cautions else "")
                    )
                buttons = st.columns(2)
                if buttons[0].button("Approve and save a new revision", type="primary", key="upd-approve"):
                    try:
                        applied = apply_proposal(  # the stored proposal, as long as it is the diff shown here
                            res, proposal.id,
                            paths=False, reviewed_diff=proposal.diff,
                        )
                        st.session_state.pop("proposal", None)
                        st.success(
                            f"Saved revision {applied.revision.number} of {applied.runbook_id} and re-indexed it."
                        )
                    except KBError as exc:
                        st.error(inert(str(exc)))
                if buttons[1].button("Discard", key="upd-discard"):
                    proposal_file(res.settings, proposal.id, paths=False).unlink(missing_ok=True)
                    st.session_state.pop("proposal", None)
                    st.info("Proposal discarded; the runbook is unchanged.")
