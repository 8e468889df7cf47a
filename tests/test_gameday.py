"""Game days: scenario building, the no-leak rule, triggers, action recognition, scoring and history."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest

from ingest.pipeline import Ingestor
from kb.clients.openai_client import ChatModel
from kb.core.errors import KBError
from kb.core.models import Scenario, Session
from kb.core.settings import Settings
from kb.gameday.cues import action_class, names_a_subject
from kb.gameday.master import NO_DATA, REFUSAL, GameMaster
from kb.gameday.scenario import build_scenario, eligible, shown_sources
from kb.gameday.scoring import POINTS, points
from kb.gameday.store import ScenarioStore, edit_clue, refresh, save_session, sessions, stale_reasons
from kb.knowledge import KnowledgeBase
from tests.conftest import fake_sample
from tests.openai_server import OpenAIServer, Reply, lines_reply, passages_of

MIGRATION = "2024-09-05-checkout-rollback-bad-migration"
PGBOUNCER = "2026-01-21-pgbouncer-idle-in-transaction"


@pytest.fixture(scope="module")
def kb_env(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, KnowledgeBase, Path]:
    return fake_sample(tmp_path_factory.mktemp("gameday"))


def shingles(text: str, n: int = 8) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.lower())
    return {tuple(words[i : i + n]) for i in range(max(0, len(words) - n + 1))}


def test_every_sample_postmortem_gives_a_scenario_that_keeps_its_secret(kb_env) -> None:  # type: ignore[no-untyped-def]
    _settings, searcher, _ = kb_env
    postmortems = eligible(searcher)
    assert len(postmortems) == 30
    built = 0
    for source in postmortems:
        try:
            scenario = build_scenario(searcher, source, "hard")
        except KBError as exc:  # refused, saying what is missing (a plain-text timeline not read as one)
            assert "cannot make a fair game day" in str(exc), source
            continue
        built += 1
        secret = shingles(scenario.truth.cause_text)
        assert scenario.truth.root_cause and secret, source
        shown = [scenario.briefing, scenario.initial_page, *(c.text for c in scenario.clues)]
        for text in shown:
            assert not shingles(text) & secret, (source, text[:120])
        assert scenario.clues, source
        for clue in scenario.clues:
            assert clue.citations, (source, clue.text)
            for c in clue.citations:
                assert searcher.store.get_record(c.doc_id).text[c.start : c.end].startswith(c.quote)
        public = json.dumps(scenario.public())
        assert "truth" not in scenario.public() and scenario.truth.root_cause[:60] not in public
        assert {"id", "difficulty", "briefing", "initial_page", "clues"} <= set(scenario.public())
        assert source not in public and scenario.source_id not in public  # an id often names the cause
    assert built >= 26


def test_difficulty_changes_what_is_shown_and_adds_red_herrings(kb_env) -> None:  # type: ignore[no-untyped-def]
    _settings, searcher, _ = kb_env
    easy = build_scenario(searcher, MIGRATION, "easy")
    hard = build_scenario(searcher, MIGRATION, "hard")
    assert sum(c.trigger.up_front for c in easy.clues) == 2
    assert sum(c.trigger.up_front for c in hard.clues) == 0
    assert not any(c.red_herring for c in easy.clues)
    herrings = [c for c in hard.clues if c.red_herring]
    assert len(herrings) == 2 and all(c.citations[0].doc_id != MIGRATION for c in herrings)
    with pytest.raises(KBError, match="difficulty"):
        build_scenario(searcher, MIGRATION, "impossible")
    with pytest.raises(KBError, match="postmortems"):
        build_scenario(searcher, "pgbouncer-pool-exhausted")


def test_a_solved_play_through(kb_env) -> None:  # type: ignore[no-untyped-def]
    _settings, searcher, _ = kb_env
    scenario = build_scenario(searcher, MIGRATION, "medium")
    master = GameMaster(scenario)
    session = master.start("alex")
    assert "v5.14.0" in master.opening(session)  # the deploy is shown up front at medium
    t = master.play(session, "show me the checkout error logs")
    assert t.kind == "question" and "statement timeout" in t.answer and t.citations
    t = master.play(session, "what is the root cause?")
    assert t.kind == "refused" and t.answer == REFUSAL
    t = master.play(session, "tell me what happened, just give me the answer")
    assert t.kind == "refused"
    t = master.play(session, "roll back the deploy")
    assert t.kind == "action" and "unchanged" in t.answer  # the real rollback did not help
    t = master.play(session, "what is the weather on mars")
    assert t.answer.startswith(NO_DATA)
    t = master.play(session, "I think a migration is holding a lock on the orders table")
    assert "diagnosed" in t.matched and "Noted" in t.answer
    t = master.play(session, "page the database on-call")
    assert any(m.startswith("communication") for m in t.matched)
    # phrased differently from "Aisha runs select pg_cancel_backend(51207)"
    t = master.play(session, "kill the CREATE INDEX query on orders")
    assert session.outcome == "mitigated" and t.matched[0].startswith("mitigation")
    master.finish(session)
    assert session.score is not None and 60 <= session.score <= 100
    debrief = session.debrief or ""
    assert f"score **{session.score}/100**" in debrief
    assert "## Your path next to what really happened" in debrief and "kill the CREATE INDEX" in debrief
    assert "13:52 - Tomás rolls back to v5.13.2" in debrief  # the real timeline
    assert "CONCURRENTLY" in debrief  # the root cause, revealed now
    assert f"`{MIGRATION}`" in debrief


def test_a_given_up_play_through_with_a_harmful_action(kb_env) -> None:  # type: ignore[no-untyped-def]
    _settings, searcher, _ = kb_env
    source = f"{PGBOUNCER}-postmortem" if f"{PGBOUNCER}-postmortem" in eligible(searcher) else PGBOUNCER
    scenario = build_scenario(searcher, source, "medium")
    master = GameMaster(scenario)
    session = master.start("bo")
    t = master.play(session, "increase the pgbouncer pool size")
    assert "made things worse" in t.answer and any(m.startswith("harmful") for m in t.matched)
    t = master.play(session, "hint")
    assert t.kind == "hint" and session.hints_used == 1 and t.citations
    t = master.play(session, "I give up")
    assert t.kind == "end" and session.outcome == "gave up"
    master.finish(session)
    assert session.score == 0  # nothing right, a harmful action and a hint
    assert "✗ did" in (session.debrief or "") and "✗ missed" in (session.debrief or "")
    with pytest.raises(KBError, match="over"):
        master.play(session, "one more thing")
    mitigated = master.start("cy")
    master.play(mitigated, "turn off the eta enrichment feature flag")
    assert mitigated.outcome == "mitigated"


def test_staged_clues_come_out_after_their_turn_and_the_turn_limit_ends_it(kb_env) -> None:  # type: ignore[no-untyped-def]
    _settings, searcher, _ = kb_env
    scenario = build_scenario(searcher, MIGRATION, "easy")
    staged = sorted((c for c in scenario.clues if c.trigger.after_turns), key=lambda c: c.trigger.after_turns or 0)
    master = GameMaster(scenario, turn_limit=staged[0].trigger.after_turns or 3)
    session = master.start("dee")
    for _ in range(staged[0].trigger.after_turns or 3):
        master.play(session, "zzz")
    assert staged[0].key in session.revealed
    assert "New information" in session.turns[-1].answer
    assert session.outcome == "turn limit"


def test_a_game_master_model_that_tries_to_leak_is_overruled(kb_env) -> None:  # type: ignore[no-untyped-def]
    _settings, searcher, _ = kb_env
    scenario = build_scenario(searcher, MIGRATION, "medium")
    cause_sentence = "CREATE INDEX without CONCURRENTLY holds SHARE for the whole build. It blocks writes but not reads."

    def leaky(request: dict) -> str:  # type: ignore[type-arg]
        pid = next(iter(passages_of(request)))
        return lines_reply([{"section": "answer", "text": f"The root cause: {cause_sentence}", "cites": [pid]}])

    def honest(request: dict) -> str:  # type: ignore[type-arg]
        pid, text = next(iter(passages_of(request).items()))
        return lines_reply([{"section": "answer", "text": text.splitlines()[0][:150], "cites": [pid]}])

    for respond, model_phrased in ((leaky, False), (honest, True)):
        with OpenAIServer([Reply(respond=respond)], model="gm") as server:
            llm = ChatModel(Settings(_env_file=None, llm_base_url=server.base_url, llm_model="gm",  # type: ignore[call-arg]
                                     llm_max_retries=0))
            master = GameMaster(scenario, llm=llm)
            session = master.start("eve")
            turn = master.play(session, "show me the checkout error logs")
            assert "CONCURRENTLY" not in turn.answer and "root cause" not in turn.answer.lower()
            assert turn.citations
            sent = json.dumps(server.requests)
            assert server.requests and "CONCURRENTLY" not in sent  # the answer key never reaches the model
            assert scenario.truth.root_cause[:80] not in sent
            if model_phrased:  # the model's own (checked) words
                assert turn.answer == passages_of(server.requests[0])["P1"].splitlines()[0][:150]
            else:  # the leak is overruled: the plain evidence is shown instead
                assert "statement timeout" in turn.answer


def test_scenarios_are_saved_listed_marked_stale_refreshed_and_edited(kb_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings, searcher, data = kb_env
    store = ScenarioStore(settings)
    scenario = build_scenario(searcher, "2024-03-20-redis-cart-eviction", "medium")
    store.save(scenario)
    assert [s.id for s in store.all()] == [scenario.id]
    assert stale_reasons(searcher, scenario) == []
    edited = edit_clue(store, scenario.id, 1, text="Cart pages are slow for some users.", after_turns=2)
    assert edited.clues[0].text == "Cart pages are slow for some users."
    # a source changes: the scenario is stale; refresh keeps id, edits and creation time
    path = data / "postmortems" / "2024-03-20-redis-cart-eviction.md"
    path.write_text(path.read_text() + "\nOne more line written after the review.\n")
    Ingestor(settings, searcher.store, searcher.embedding, searcher.keyword).run([data])
    assert any("changed" in r for r in stale_reasons(searcher, store.load(scenario.id)))
    fresh = refresh(searcher, store, scenario.id)
    assert fresh.id == scenario.id and fresh.created == scenario.created and fresh.refreshed
    assert fresh.clues[0].text == "Cart pages are slow for some users." and fresh.clues[0].trigger.after_turns == 2
    assert stale_reasons(searcher, fresh) == []


def test_sessions_are_saved_with_transcript_and_score(kb_env) -> None:  # type: ignore[no-untyped-def]
    settings, searcher, _ = kb_env
    store = ScenarioStore(settings)
    scenario: Scenario = build_scenario(searcher, MIGRATION, "medium")
    master = GameMaster(scenario)
    for name in ("fay", "gus"):
        session = master.start(name, now=dt.datetime(2026, 1, 1, 12, len(name), tzinfo=dt.UTC))
        master.play(session, "what changed?")
        master.play(session, "end")
        master.finish(session)
        save_session(store, session)
    (store.sessions_dir / "broken.json").write_text("{")
    past = sessions(store)
    assert [s.trainee for s in past][-2:] == ["fay", "gus"]
    assert all(s.score is not None and s.turns and s.debrief for s in past)
    assert past[-1].services == scenario.services


def test_actions_are_classified() -> None:
    assert action_class("revert the last deploy") == "rollback"
    assert action_class("kill the long running query") == "terminate"
    assert action_class("bump the pool size") == "raise_limit"
    assert action_class("fail over to the secondary provider") == "failover"
    assert action_class("turn off the feature flag") == "disable"
    assert action_class("page the database on-call") == "page"


FREE_DELIVERY = "2023-12-19-free-delivery-flag-full-rollout"
KAFKA = "2023-06-18-kafka-lag-delayed-deliveries"


def test_a_harmful_action_named_by_its_setting_is_recognised_and_the_rubric_adds_up(kb_env) -> None:  # type: ignore[no-untyped-def]
    _settings, searcher, _ = kb_env
    assert action_class("raise default_pool_size to 60") == "raise_limit"
    assert action_class("bump max_connections") == "raise_limit"
    source = f"{PGBOUNCER}-postmortem"
    master = GameMaster(build_scenario(searcher, source, "medium"))
    session = master.start("di")
    t = master.play(session, "raise default_pool_size to 60")
    assert t.kind == "action" and any(m.startswith("harmful") for m in t.matched)
    master.play(session, "I think something holds transactions open, idle in transaction sessions fill the pool")
    master.play(session, "terminate the idle in transaction sessions")
    assert session.outcome == "mitigated"
    master.finish(session)
    debrief = session.debrief or ""
    rows = [line for line in debrief.splitlines() if line.startswith("| ")][1:]  # after the header
    rubric_rows = rows[: rows.index(next(r for r in rows if "**total**" in r)) + 1]
    earned = [int(m.group(1)) for r in rubric_rows[:-1] if (m := re.search(r"\| ([+-]\d+) \|$", r))]
    assert "| ✗ did | harmful |" in debrief and "| -15 |" in debrief
    assert sum(earned) == session.score, rubric_rows  # the points shown add up to the score
    assert sum(1 for r in rubric_rows if re.search(r"\| \+40 \|$", r)) == 1  # one mitigation counts
    assert f"**{session.score}**" in rubric_rows[-1]


def test_the_points_a_rubric_item_shows_are_the_points_it_scores(kb_env) -> None:  # type: ignore[no-untyped-def]
    _settings, searcher, _ = kb_env
    scenario = build_scenario(searcher, f"{PGBOUNCER}-postmortem", "medium")
    rubric = scenario.truth.rubric
    assert {"mitigation", "diagnosis", "communication", "harmful"} <= {i.kind for i in rubric}
    found = [i.text for i in rubric if i.kind == "diagnosis"]  # what the responders found is not handed out
    assert not [c.text for c in scenario.clues if any(c.text.startswith(f[:20]) for f in found)]
    for item in rubric:  # matched alone, an item earns what it shows
        session = Session(id="s", scenario_id=scenario.id, trainee="t", started=dt.datetime.now(dt.UTC),
                          matched=[item.id])
        assert points(scenario, session)[item.id] == item.points == POINTS[item.kind], item.id
    # what `kb gameday show --reveal --json` prints and what is saved
    shown = scenario.truth.model_dump(mode="json")["rubric"]
    assert [(i["kind"], i["points"]) for i in shown] == [(i.kind, POINTS[i.kind]) for i in rubric]
    assert {"diagnosis": 30, "harmful": -15}.items() <= {i["kind"]: i["points"] for i in shown}.items()
    # a scenario saved with other points shows the points scoring uses
    saved = json.loads(scenario.model_dump_json())
    for item in saved["truth"]["rubric"]:
        item["points"] = 20
    assert [i.points for i in Scenario.model_validate(saved).truth.rubric] == [POINTS[i.kind] for i in rubric]


def test_no_alert_incident_starts_at_the_first_report_not_the_day_before(kb_env) -> None:  # type: ignore[no-untyped-def]
    _settings, searcher, _ = kb_env
    scenario = build_scenario(searcher, FREE_DELIVERY, "medium")
    assert "2023-12-18" not in scenario.initial_page
    assert "sees" in scenario.initial_page and "something has just been reported" in scenario.briefing
    assert scenario.truth.time_to_mitigate == "1h 49m"  # 11:40 (first report) to 13:29 (impact ends)
    assert scenario.truth.impact_duration and scenario.truth.impact_duration.startswith("3h27m")
    master = GameMaster(scenario)
    session = master.start("ed")
    master.play(session, "turn off the flag checkout.free-delivery-threshold-20")
    master.finish(session)
    debrief = session.debrief or ""
    assert "from the first alert or report to recovery" in debrief and "| ✓ | mitigation |" in debrief
    assert "| ✗ missed | mitigation |" not in debrief  # another mitigation step is not "missed" once one counted


def test_a_question_about_a_metric_the_evidence_does_not_hold_has_no_data(kb_env) -> None:  # type: ignore[no-untyped-def]
    _settings, searcher, _ = kb_env
    master = GameMaster(build_scenario(searcher, FREE_DELIVERY, "medium"))
    session = master.start("ed")
    # its one dashboard clue is about delivery-fee revenue: no answer to a question about checkout's CPU
    assert master.play(session, "what is the CPU usage of checkout?").answer.startswith(NO_DATA)
    # a question for graphs in general still gets a graph
    assert "dashboard" in master.play(session, "how do the graphs look?").answer


def test_commands_are_read_by_what_they_do() -> None:
    """Commands that are not among the action examples, in other systems' names."""
    commands = {"kubectl -n web rollout undo deployment/cart": "rollback",
                "kubectl delete pod cart-7c9d-xk2p1 -n web": "delete",
                "gcloud sql instances failover ledger-db": "failover",
                "sudo systemctl restart postgresql": "restart",
                "kubectl scale statefulset/queue --replicas=5": "scale"}
    assert {c: action_class(c) for c in commands} == commands


def test_a_question_names_a_subject_or_asks_for_a_kind_of_evidence() -> None:
    """Phrasings that are not among the question_scope examples."""
    named = ["how much memory is the search indexer using?", "what's the write latency on the ledger database?",
             "what does the access log of the admin portal say?", "how many jobs are stuck in the render queue?"]
    general = ["what are the graphs showing?", "any logs worth a look?", "anything deployed lately?",
               "what are the alerts saying?"]
    assert [names_a_subject(q) for q in named + general] == [True] * len(named) + [False] * len(general)


def test_a_pasted_query_result_answers_a_question_about_what_was_queried(kb_env) -> None:  # type: ignore[no-untyped-def]
    _settings, searcher, _ = kb_env
    master = GameMaster(build_scenario(searcher, f"{PGBOUNCER}-postmortem", "medium"))
    t = master.play(master.start("fa"), "what does pg_stat_activity show?")
    assert "application_name" in t.answer and t.citations[0].section == "chat"


def test_a_config_change_fix_a_tried_scale_out_and_nothing_after_the_fix(kb_env) -> None:  # type: ignore[no-untyped-def]
    _settings, searcher, _ = kb_env
    assert action_class("raise default_pool_size to 60") == "raise_limit"  # a limit stays a limit
    scenario = build_scenario(searcher, KAFKA, "medium")
    assert "max.poll.interval.ms=600000" in scenario.truth.mitigation  # the 12:14 config change fixed it
    # what the timeline says after the fix (12:23 group stable, lag falling) is never a clue
    assert not [c.text for c in scenario.clues if c.text.startswith(("12:23", "12:58"))]
    master = GameMaster(scenario)
    session = master.start("di")
    # "11:52 Scaling ... tried; it makes rebalances more frequent": one entry says the step and that it hurt
    scaled = master.play(session, "scale out delivery-dispatch to 24 replicas")
    assert "rebalances more frequent" in scaled.answer  # what really happened when they tried it
    assert session.outcome is None and [i.kind for i in scenario.truth.rubric if i.id in scaled.matched] == ["harmful"]
    # a claim about the mechanism is a hypothesis, not a step that could end the game
    claim = master.play(session, "I think slow batches exceed the poll interval so consumers get evicted and rebalance")
    assert claim.kind == "hypothesis" and session.outcome is None
    plain = master.play(session, "slow batches exceed the poll interval so consumers get evicted and rebalance")
    assert plain.kind == "hypothesis" and session.outcome is None  # said plainly, without "I think"


def test_the_setting_that_fixed_the_kafka_lag_is_recognised_as_the_fix(kb_env) -> None:  # type: ignore[no-untyped-def]
    _settings, searcher, _ = kb_env
    master = GameMaster(build_scenario(searcher, KAFKA, "medium"))
    session = master.start("di")
    master.play(session, "raise max.poll.interval.ms to 600000")
    assert session.outcome == "mitigated"


def test_nothing_shown_during_play_names_the_postmortem(kb_env) -> None:  # type: ignore[no-untyped-def]
    _settings, searcher, _ = kb_env
    scenario = build_scenario(searcher, MIGRATION, "medium")
    # the postmortem's id names the cause ("...-bad-migration"); the scenario's id does not carry it
    assert "migration" not in scenario.id and scenario.id.startswith("gd-2024-09-05-checkout-")
    assert scenario.id == build_scenario(searcher, MIGRATION, "medium").id  # the same every time
    master = GameMaster(scenario)
    session = master.start("di")
    turn = master.play(session, "what changed in the last hour?")
    assert turn.citations and MIGRATION not in shown_sources(turn.citations)
    assert shown_sources(turn.citations) in ("timeline", "chat", "impact", "timeline; chat", "chat; timeline")


def test_a_claim_without_i_think_is_a_hypothesis(kb_env) -> None:  # type: ignore[no-untyped-def]
    _settings, searcher, _ = kb_env
    master = GameMaster(build_scenario(searcher, MIGRATION, "medium"))
    session = master.start("di")
    claim = master.play(session, "the migration is holding a lock on orders")
    assert claim.kind == "hypothesis" and "diagnosed" in claim.matched
    assert master.play(session, "what is the error rate?").kind != "hypothesis"
    assert master.play(session, "show me the database locks").kind != "hypothesis"
    assert master.play(session, "roll back the deploy").kind == "action"


SESSION_CACHE = "2025-01-08-session-cache-failover-2025"


def test_nothing_from_the_fix_on_is_shown_and_only_the_real_fix_is_accepted(kb_env) -> None:  # type: ignore[no-untyped-def]
    _settings, searcher, _ = kb_env
    scenario = build_scenario(searcher, SESSION_CACHE, "medium")
    record = searcher.store.get_record(SESSION_CACHE)
    fix_at = record.text.index("09:33 - Priya decides on a rolling restart")
    for clue in scenario.clues:  # no clue comes from the fix or after it
        assert all(c.doc_id != SESSION_CACHE or c.start < fix_at for c in clue.citations), clue.text
    master = GameMaster(scenario)
    for question in ("what changed in the last hour?", "what do the dashboards say?", "what changed recently?"):
        turn = master.play(master.start("gi"), question)
        assert "back to 99.5%" not in turn.answer and "rollout restart" not in turn.answer, question
        assert all(c.doc_id != SESSION_CACHE or c.start < fix_at for c in turn.citations), question
    paused = master.start("ha")
    master.play(paused, "pause the cilium upgrade")
    assert paused.outcome is None  # tried in the real incident, but not what fixed it
    fixed = master.start("ib")
    master.play(fixed, "restart the auth pods one by one so they reconnect to the new redis primary")
    assert fixed.outcome == "mitigated"
    master.finish(fixed)
    assert (fixed.score or 0) > 0
    # a system's log line ("Sentinel: ... pages Marcus") is not a responder communicating
    assert not [i for i in scenario.truth.rubric if i.kind == "communication" and "Sentinel:" in i.text]
    # the briefing and the id say nothing of the cause
    assert "cilium" not in scenario.id.lower() and "ioredis" not in scenario.briefing.lower()


def test_a_postmortem_that_cannot_make_a_fair_game_day_is_refused_with_what_is_missing(tmp_path: Path) -> None:
    from tests.conftest import fake_ingested

    data = tmp_path / "data" / "postmortems"
    data.mkdir(parents=True)
    (data / "2026-02-02-outage.md").write_text(
        "---\ntitle: outage\ndate: 2026-02-02\nkind: postmortem\n---\n# outage\n\n## Summary\n\nThe site was "
        "down for an hour.\n\n## Root cause\n\nA certificate for the wrong domain was deployed.\n\n## Timeline\n\n"
        "Things happened that day and were written down later.\n", encoding="utf-8")
    settings = Settings(data_dir=tmp_path / "kb", _env_file=None)  # type: ignore[call-arg]
    searcher = fake_ingested(settings, tmp_path / "data")
    with pytest.raises(KBError, match="cannot make a fair game day: no timeline whose entries have times"):
        build_scenario(searcher, "2026-02-02-outage")


@pytest.mark.slow
def test_the_fix_threshold_is_the_calibrated_one() -> None:
    from kb.gameday.cues import SAME_ACTION, calibrate

    cut, right, pairs = calibrate()
    assert pairs >= 40 and right >= 0.8
    assert round(abs(cut - SAME_ACTION), 2) <= 0.02  # the cut is a rounded cosine: compare in hundredths


def test_a_timeline_of_plain_lines_is_read_entry_by_entry() -> None:
    from kb.gameday.timeline import _when, entries
    from kb.text.steps import Span

    text = ("2025-03-02  The retention job is paused for a reindex and never resumed.\n"
            "14:05       Disk on the log nodes passes 85%. Nobody is paged.\n"
            "            The warning goes to a muted channel.\n"
            "2025-03-09  09:12  The disk alert pages the on-call.\n"
            "            09:30  Old indices are deleted by name.")
    found = entries(Span(100, 100 + len(text), text))
    assert [_when(e.text) for e in found] == [None, "14:05", "2025-03-09 09:12", "09:30"]
    assert found[1].text.endswith("muted channel.") and all(text[e.start - 100 : e.end - 100] == e.text for e in found)


def test_a_wrapped_line_of_a_list_item_that_starts_with_a_date_continues_it() -> None:
    from kb.gameday.timeline import _when, entries
    from kb.text.steps import Span

    item = ("- 2026-01-19 14:30 - v5.8.0 deployed behind a flag at 5%, raised to 100% on\n"
            "  2026-01-20 09:00 after a clean canary.")
    (entry,) = entries(Span(0, len(item), item))
    assert entry.text == item and _when(entry.text) == "2026-01-19 14:30"
    field = "- **Context**:\n  - 2025-05-02 09:12: Alert fired.\n  - 2025-05-02 09:20: On-call looked."
    assert [_when(e.text) for e in entries(Span(0, len(field), field))] == [None, "2025-05-02 09:12",
                                                                             "2025-05-02 09:20"]


def test_postmortems_whose_timeline_is_plain_text_make_game_days(kb_env) -> None:  # type: ignore[no-untyped-def]
    _settings, searcher, _ = kb_env
    for source in ("2024-08-13-orders-db-replication-lag", "2025-02-19-search-es-disk-watermark-again"):
        scenario = build_scenario(searcher, source, "medium")
        timed = [t.time for t in scenario.truth.timeline if t.time]
        assert len(timed) >= 10 and scenario.clues and scenario.truth.mitigation, source
        # the page is an entry of the incident's day (its time, maybe after the date), not the setting changed
        # weeks before, and not an entry told with hindsight ("07:53 Autovacuum ... removes tuples ...")
        assert re.match(rf"({source[:10]} )?\d{{2}}:\d{{2}} ", scenario.initial_page), (source, scenario.initial_page)
        assert "2024-07-25" not in scenario.initial_page and "Autovacuum" not in scenario.initial_page, source
