"""Game day: pick a scenario or spin the wheel, play it as a chat with the game master, then the debrief."""

from __future__ import annotations

import random

import streamlit as st

from kb.core.enums import Outcome
from kb.core.errors import KBError
from kb.gameday.master import GameMaster
from kb.gameday.scenario import DIFFICULTIES, SEVERITIES, build_scenario, shown_sources
from kb.gameday.scenario import spin as spin_wheel
from kb.gameday.store import ScenarioStore, refresh, save_session, sessions, stale_reasons
from kb.generation.markup import inert
from ui.web.common import escape, resources, shown_errors


def _pick(ids: list[str]) -> None:
    """Set the Scenario picker before it is drawn (its widget state, not ``index``, decides what it shows):
    a scenario chosen elsewhere since it was last drawn (just built here, or from a document's page) wins;
    else the picker keeps its own choice; else the scenario the address names; else the first."""
    chosen = st.session_state.get("scenario_id")
    if chosen in ids and chosen != st.session_state.get("gd_shown"):
        st.session_state["gd_pick"] = chosen
    elif st.session_state.get("gd_pick") not in ids:
        named = st.query_params.get("scenario")
        st.session_state["gd_pick"] = next((i for i in (named, chosen) if i in ids), ids[0])


res = resources()
st.title("Game day")
store = ScenarioStore(res.settings)

with shown_errors():
    services = res.services()
    scenarios = {s.id: s for s in store.all()}

    with st.expander("New scenario", expanded=not scenarios):
        cols = st.columns(3)
        service = cols[0].selectbox("Service", ["", *services], key="gd_service")
        severity = cols[1].selectbox("Severity", ["", *SEVERITIES], key="gd_severity")
        difficulty = cols[2].selectbox("Difficulty", DIFFICULTIES, index=1, key="gd_difficulty")
        pool = res.eligible(service or None, severity or None)
        source = st.selectbox("From incident", ["", *pool], key="gd_source")
        left, right = st.columns(2)
        build = left.button("Build from this incident", disabled=not source, key="gd-build")
        spin = right.button("Spin the wheel", disabled=not pool, key="gd-spin")
        if build or spin:
            try:
                # the incident is not named: a wheel's pick would give its cause away ("...-bad-migration")
                with st.spinner(f"Building a {difficulty} scenario..."):
                    scenario = (build_scenario(res, source, difficulty) if build
                                else spin_wheel(res, pool, difficulty, random.Random()))
                store.save(scenario)
                scenarios[scenario.id] = scenario
                st.session_state["scenario_id"] = scenario.id
                st.session_state.pop("gd_session", None)
            except KBError as exc:
                st.error(inert(str(exc)))

    if scenarios:
        ids = sorted(scenarios)
        _pick(ids)
        scenario_id = st.selectbox("Scenario", ids, key="gd_pick")
        if scenario_id != st.session_state.get("scenario_id"):
            st.session_state.pop("gd_session", None)
        st.session_state["scenario_id"] = st.session_state["gd_shown"] = scenario_id
        st.query_params["scenario"] = scenario_id  # the address names the scenario: a link to it opens it
        scenario = scenarios[scenario_id]
        reasons = stale_reasons(res, scenario)
        if reasons:
            st.warning(inert("This scenario is stale: " + "; ".join(reasons)))
            if st.button("Refresh it", key="gd-refresh"):
                scenario = refresh(res, store, scenario_id)
        trainee = st.text_input("Your name", value=st.session_state.get("gd_trainee", "trainee"), key="gd_trainee")
        master = GameMaster(scenario, llm=res.llm)
        session = st.session_state.get("gd_session")
        if session is None or session.scenario_id != scenario.id:
            if st.button("Start", type="primary", key="gd-start"):
                session = master.start(trainee)
                st.session_state["gd_session"] = session
        if session is not None and session.scenario_id == scenario.id:
            st.info(inert(scenario.briefing))
            st.error(inert(f"PAGE: {scenario.initial_page}"))
            for key in session.revealed:
                clue = master.clues.get(key)
                if clue is not None:
                    with st.container(border=True):
                        st.caption(f"clue · {clue.category}")
                        st.markdown(escape(clue.text))
            for turn in session.turns:
                with st.chat_message("user"):
                    st.markdown(escape(turn.trainee))
                with st.chat_message("assistant"):
                    st.markdown(escape(turn.answer))
                    if turn.citations:
                        st.caption("source: " + escape(shown_sources(turn.citations)))
            if session.outcome is None:
                controls = st.columns(2)
                if controls[0].button("Hint (-5 points)", key="gd-hint"):
                    with st.spinner("The game master is picking a hint..."):
                        master.play(session, "hint")
                    st.rerun()
                if controls[1].button("End", key="gd-end"):
                    master.play(session, "end")
                    st.rerun()
                said = st.chat_input('Ask, hypothesise or act ("roll back the deploy")', key="gd_input")
                if said:
                    with st.chat_message("user"):
                        st.markdown(escape(said))
                    with st.chat_message("assistant"), st.spinner("The game master is answering..."):
                        master.play(session, said)
                    st.rerun()
            else:
                if session.score is None:
                    with st.spinner("Scoring the session..."):
                        master.finish(session)
                    save_session(store, session)
                shown = st.success if session.outcome == Outcome.mitigated else st.warning  # giving up is not a win
                shown(f"{session.outcome}: score {session.score}/100")
                st.markdown(inert(session.debrief or ""))
                st.download_button("Download the debrief", session.debrief or "", f"{session.id}.md", key="gd-download")

    past = sessions(store)
    if past:
        st.subheader("Past sessions")
        st.dataframe(
            [
                {
                    "when": f"{s.started:%Y-%m-%d %H:%M}",
                    "trainee": s.trainee,
                    "scenario": s.scenario_id,
                    "outcome": s.outcome,
                    "score": s.score,
                    "turns": len(s.turns),
                }
                for s in reversed(past)
            ],
            hide_index=True,
            width="stretch",
        )
