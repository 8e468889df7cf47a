"""Ask: a chat with the knowledge base; sources beside each answer; turn an answer into a runbook draft."""

from __future__ import annotations

import streamlit as st

from kb.core.enums import Generator
from kb.generation.ask import Conversation, ask
from kb.generation.guard import caution_note
from ui.web.common import escape, resources, show_quote, shown_errors
from ui.web.links import citation_link, draft_from

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
            if answer.note:  # an LLM was asked and its reply set aside
                left.warning(escape(f"{answer.note[:-1]}: the passages that answer best, quoted."))
            elif answer.generator == Generator.extractive:
                left.caption("No LLM used: the passages that answer best, quoted.")
            right.caption(f"confidence {answer.confidence:.2f}")
            sources = [c for item in answer.items for c in item.citations[:1]]
            if sources:  # each source links to its passage on the document page
                right.markdown("**Sources**  \n" + "  \n".join(
                    f"{k}. {citation_link(c)}" for k, c in enumerate(sources, start=1)))
            if answer.found and right.button("Draft a runbook from this", key=f"ask-draft-{n}"):
                draft_from(answer.question)
    question = st.chat_input("How did we fix the last Redis failover?", key="ask_input")
    if question:
        with st.chat_message("user"):  # the question at once, and a sign of work while it is answered
            st.markdown(escape(question))
        with st.chat_message("assistant"), st.spinner(
            "Answering with the LLM..." if res.llm else "Finding the passages that answer it..."
        ):
            ask(res, question, conversation, llm=res.llm)
        st.rerun()
    if conversation.turns and st.button("New conversation", key="ask-reset"):
        st.session_state["ask_conversation"] = Conversation()
        st.rerun()
