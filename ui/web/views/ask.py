"""Ask: a chat with the knowledge base; sources beside each answer; turn an answer into a runbook draft."""

from __future__ import annotations

import streamlit as st

from kb.core.enums import Generator
from kb.generation.ask import Conversation, ask
from kb.generation.guard import caution_note
from ui.web.common import PAGES, escape, resources, show_quote, shown_errors

res = resources()
st.title("Ask the knowledge base")
conversation: Conversation = st.session_state.setdefault("ask_conversation", Conversation())

with shown_errors():
    for n, answer in enumerate(conversation.turns):
        with st.chat_message("user"):
            st.markdown(escape(answer.question))
        with st.chat_message("assistant"):
            left, right = st.columns([3, 2])
            if not answer.found:
                left.markdown(escape(answer.answer))
            for item in answer.items:
                show_quote(left, item.text)
                if item.cautions:
                    left.warning(escape(caution_note(item.cautions).replace("**", "")))
            if answer.newest_first:
                left.caption("The latest matching incidents first, as the question asks.")
            if answer.generator == Generator.extractive:
                left.caption("No LLM used: the passages that answer best, quoted.")
            right.caption(f"confidence {answer.confidence:.2f}")
            for item in answer.items:
                c = item.citations[0]
                right.caption(escape(f"{c.doc_id} · {c.section} · {c.start}-{c.end}"))
            if answer.found and right.button("Draft a runbook from this", key=f"ask-draft-{n}"):
                st.session_state["draft_topic"] = answer.question
                st.switch_page(PAGES["runbooks"])
    question = st.chat_input("How did we fix the last Redis failover?", key="ask_input")
    if question:
        ask(res, question, conversation, llm=res.llm)
        st.rerun()
    if conversation.turns and st.button("New conversation", key="ask-reset"):
        st.session_state["ask_conversation"] = Conversation()
        st.rerun()
