"""Ingest: upload files or a zip, with a progress bar and per-file results; index stats; re-index."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import streamlit as st

from ingest.pipeline import Ingestor
from ingest.uploads import save_uploads
from ui.web.common import escape, resources, shown_errors

res = resources()
st.title("Ingest")
STAGES = {"scan": "Reading files", "embed": "Embedding and storing passages", "index": "Keyword index"}

with shown_errors():
    limit_mb = res.settings.max_file_mb
    files = st.file_uploader(
        "Postmortems, runbooks, chat logs: Markdown, PDF, text, Slack export JSON, Confluence or Google Docs "
        "HTML, Word (.docx), a Notion export, incident exports (PagerDuty, Opsgenie, Jira, incident.io, GitHub "
        f"issues: JSON or CSV), or a zip (up to {limit_mb:g} MB each)",
        accept_multiple_files=True,
        type=["md", "markdown", "pdf", "txt", "log", "json", "html", "htm", "xhtml", "docx", "csv", "zip"],
        key="uploads",
    )
    if files and st.button("Ingest", type="primary", key="ingest-go"):
        uploads = res.settings.data_dir / "uploads"
        batch = uploads / dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
        saved = save_uploads(batch, [(f.name, f.getvalue()) for f in files], int(limit_mb * 1024 * 1024), uploads)
        for name, reason in saved.refused:  # names come from the upload and its archive: shown as text
            st.error(escape(f"{name}: {reason}"))
        for name, copy in saved.already:
            st.info(escape(f"{name}: already uploaded ({copy.relative_to(uploads)}), so not ingested again"))
        if saved.files:
            bar = st.progress(0.0, text="Starting")

            def progress(stage: str, done: int, total: int) -> None:
                bar.progress(min(1.0, done / max(1, total)), text=f"{STAGES.get(stage, stage)} {done}/{total}")

            report = Ingestor.into(res).run([batch], progress=progress)
            bar.progress(1.0, text=f"Done in {report.seconds:.1f}s")
            st.session_state["ingest_report"] = report
    last = st.session_state.get("ingest_report")
    if last is not None:
        report = last
        st.markdown(
            f"**{report.added}** added, **{report.updated}** updated, **{report.unchanged}** unchanged, "
            f"**{len(report.failed)}** failed, **{report.redacted}** secrets redacted"
        )
        st.dataframe(
            [
                {
                    "file": f.path.rsplit("/", 1)[-1],
                    "status": f.status,
                    "documents": ", ".join(f.records),
                    "passages": f.chunks,
                    "redactions": f.redactions,
                    "error": f.error or "",
                }
                for f in report.files
            ],
            hide_index=True,
            width="stretch",
        )
        for failure in report.failed:
            st.error(f"{escape(failure.path.rsplit('/', 1)[-1])}: {escape(failure.error)}")

    st.subheader("Index")
    metas = res.record_metas()
    kinds = Counter(m.kind.value for m in metas.values())
    cols = st.columns(4)
    cols[0].metric("Documents", len(metas))
    cols[1].metric("Passages", res.passage_count())
    cols[2].metric("Postmortems", kinds.get("postmortem", 0))
    cols[3].metric("Runbooks", kinds.get("runbook", 0))
    if st.button("Re-index keyword search", key="reindex"):
        res.reload()
        st.success("Keyword index checked against the store.")
