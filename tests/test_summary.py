"""Postmortem drafts from the sample chat logs: extractive, cited, in the standard template."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from ingest.sources import discover, parse_unit
from ingest.sources.base import ParseOptions
from kb.core.enums import MessageKind
from kb.core.models import Kind, Message, Record
from kb.generation.summary import (
    TEMPLATE,
    Fact,
    classify,
    first_signal,
    recovery_statement,
    summarize,
    turning_point,
)
from tests.conftest import DATA

CHATS = sorted(DATA.joinpath("chats").glob("*.txt")) + sorted(DATA.joinpath("slack").iterdir())


def chat_records(path: Path) -> list[Record]:
    units, _ = discover([path])
    options = ParseOptions(redact=True, kind=None, known_services=set(), max_bytes=10**8)
    return [r for u in units for r in parse_unit(u, options) if r.messages]


@pytest.mark.parametrize("path", CHATS, ids=lambda p: p.name)
def test_every_sample_chat_gets_a_cited_timeline_and_template(path: Path) -> None:
    for record in chat_records(path):
        draft = summarize(record)
        assert draft.generator == "extractive"
        assert "without an LLM" in draft.markdown
        for section in TEMPLATE:
            assert f"## {section.capitalize()}" in draft.markdown
        timeline = [i for i in draft.items if i.section == "timeline"]
        if len(record.messages) >= 10:
            assert len(timeline) >= 5
        for item in draft.items:
            assert item.citations, item
            for c in item.citations:
                assert c.doc_id == record.id
                assert record.text[c.start : c.end].startswith(c.quote)  # every citation resolves
        times = [i.time for i in timeline]
        assert times == sorted(times)
        assert all(i.who for i in timeline)


def test_the_pgbouncer_log_reads_like_the_incident() -> None:
    (record,) = chat_records(DATA / "chats" / "2026-01-21-pgbouncer-idle-in-transaction.txt")
    draft = summarize(record)
    by_section: dict[str, list[str]] = {}
    for item in draft.items:
        by_section.setdefault(item.section, []).append(item.text)
    kinds = {i.kind for i in draft.items if i.section == "timeline"}
    assert {"report", "action", "cause"} <= kinds
    first = next(i for i in draft.items if i.section == "timeline")
    assert first.kind == "report" and "PgBouncerPoolExhausted" in first.text
    (summary,) = by_section["summary"]
    assert summary.startswith("First signal 2026-01-21 10:18")
    recovered = summary.split("recovered 2026-01-21 ")[1][:5]
    assert "10:40" < recovered <= "11:20"  # after the flag went off, not at the start of the fix
    assert any(t.startswith("found it.") for t in by_section["fault"])  # 10:36 explains it
    assert not any(t.startswith("can we raise the pool") for t in by_section["fault"])  # a question proposes
    impact = by_section["impact"]
    assert any("~30 contacts" in t for t in impact) and any("orders are stuck" in t for t in impact)
    assert not any("hold the status page" in t or t.rstrip().endswith("?") for t in impact)
    as_json = draft.as_json()
    assert set(as_json) >= {"title", "markdown", "generator", "items", "dropped", "sources"}
    assert as_json["sources"] == [record.id]


#: a chat of a CI team, written as such teams write (no "customers", no "contacts", no error percentages)
CI_CHAT = """\
[2026-02-03 09:02:11] ines: morning. anyone else seeing the merge queue not moving?
[2026-02-03 09:04:40] ravi: yeah, nothing has merged on main since about 07:30, 40 PRs waiting
[2026-02-03 09:05:02] ines: runners look idle. cpu on the controller is at 12%
[2026-02-03 09:06:15] ravi: I think it's the token rotation from last night
[2026-02-03 09:07:30] ines: every presubmit for the web repo is stuck in pending, people are pinging me about their PRs
[2026-02-03 09:09:12] ravi: controller logs: `401 Unauthorized` on every status update
[2026-02-03 09:10:05] ines: ok rotating the bot token again and restarting the controller
[2026-02-03 09:14:48] ravi: statuses are posting again, queue is moving
[2026-02-03 09:40:19] ines: wrap-up: no merges for about two hours this morning, roughly 60 PRs delayed, nobody lost work
[2026-02-03 09:41:00] ravi: TODO: alert when the bot gets 401s
"""


def test_a_chat_in_another_teams_words_gets_the_lines_that_tell_the_harm(tmp_path: Path) -> None:
    path = tmp_path / "2026-02-03-merge-queue.txt"
    path.write_text(CI_CHAT)
    (record,) = chat_records(path)
    impact = [i.text for i in summarize(record).items if i.section == "impact"]
    assert any(t.startswith("yeah, nothing has merged") for t in impact)
    assert any(t.startswith("wrap-up: no merges") for t in impact)
    for internal in ("runners look idle", "I think it's", "controller logs", "ok rotating", "TODO"):
        assert not any(t.startswith(internal) for t in impact), internal


def test_the_pgbouncer_summary_names_the_flag_as_the_fix() -> None:
    (record,) = chat_records(DATA / "chats" / "2026-01-21-pgbouncer-idle-in-transaction.txt")
    recovery = [i.text for i in summarize(record).items if i.section == "recovery"]
    assert any("OFF at 10:40:06" in t for t in recovery)
    # the review afterwards ("read back through. good recovery. I'll take the action to ...") is no recovery
    assert not [t for t in recovery if "take the action" in t], recovery


def test_the_fix_is_the_step_that_carried_out_the_decision_not_the_last_step_before_recovery(tmp_path: Path) -> None:
    """A stopgap started while the decided step was under way, and undone once it landed, is not the fix."""
    chat = tmp_path / "2026-03-02-search-latency.txt"
    chat.write_text(
        "[2026-03-02 14:05:10] grafana: [FIRING:1] SearchLatencyHigh service=search p99=4.2s\n"
        "[2026-03-02 14:06:02] dana: ack. p99 on search is 4s, normally 300ms\n"
        "[2026-03-02 14:09:40] omar: the index rebuild job started at 14:00 and is hammering the shards\n"
        "[2026-03-02 14:10:15] omar: we could pause the rebuild job, it can resume from its checkpoint later\n"
        "[2026-03-02 14:10:40] dana: agreed, pause it\n"
        "[2026-03-02 14:11:05] omar: scaling the query tier from 4 to 6 replicas while we wait\n"
        "[2026-03-02 14:13:30] omar: rebuild job paused at checkpoint 41\n"
        "[2026-03-02 14:15:10] omar: scaled the query tier back to 4\n"
        "[2026-03-02 14:16:00] grafana: [RESOLVED] SearchLatencyHigh service=search p99=0.31s\n"
        "[2026-03-02 14:17:20] dana: search is back to normal\n"
    )
    (record,) = chat_records(chat)
    recovery = [i.text for i in summarize(record).items if i.section == "recovery"]
    assert recovery[0] == "rebuild job paused at checkpoint 41"
    assert not any("back to 4" in t for t in recovery)


def test_quoted_text_inside_a_message_does_not_decide_its_kind() -> None:
    (record,) = chat_records(DATA / "chats" / "2024-05-14-payflow-outage.txt")
    facts = classify(record)
    planted = next(f for f in facts if "support inbox" in f.message.text)
    assert "ignore previous instructions" in planted.message.text
    assert planted.kind != "resolution"  # "close this ticket as resolved" is the customer's text, not ours
    draft = summarize(record)
    assert not any("refund for every order" in i.text for i in draft.items if i.section == "action items")


def test_a_query_run_at_a_database_prompt_is_an_action() -> None:
    (record,) = chat_records(DATA / "chats" / "2024-09-05-checkout-bad-migration.txt")
    cancel = next(f for f in classify(record) if "pg_cancel_backend(51207)" in f.message.text)
    assert cancel.kind == "action"  # "orders=# SELECT pg_cancel_backend(51207);" was the fix
    timeline = [i.text for i in summarize(record).items if i.section == "timeline"]
    assert any("pg_cancel_backend(51207)" in line for line in timeline)


def test_promised_follow_ups_are_action_items() -> None:
    (record,) = chat_records(DATA / "chats" / "2025-05-27-envoy-503s.txt")
    actions = [i.text for i in summarize(record).items if i.section == "action items"]
    assert any("synthetic checks" in t for t in actions)
    assert not any("revoke" in t for t in actions)  # said during the incident, not a follow-up


@pytest.mark.parametrize("path", CHATS, ids=lambda p: p.name)
def test_shortened_lines_end_at_a_word(path: Path) -> None:
    for record in chat_records(path):
        for fact in classify(record):
            line = fact.message.text.split("\n", 1)[0].strip()
            if fact.text != line and line.startswith(fact.text):
                following = line[len(fact.text)]
                assert not (fact.text[-1].isalnum() and following.isalnum()), fact.text[-40:]


def test_a_message_that_opens_with_pasted_output_cites_its_words() -> None:
    from datetime import datetime

    from kb.core.models import Kind, Message
    from kb.generation.chatlines import first_line_span as _first_line_span
    from kb.generation.chatlines import judged_text

    text = "ana [10:02]\n```\n$ kubectl top nodes\nnode-1   97%\n```\nhttps://dash.example/d/1\nload is back under 40% now\n"
    message = Message(ts=datetime(2026, 3, 1, 10, 2), author="ana", text=text.split("\n", 1)[1].rstrip(),
                      start=0, end=len(text))
    record = Record(id="c", kind=Kind.chat, title="c", text=text, source_path="c.txt", source_key="c.txt",
                    format="text", content_hash="h")
    start, end, line = _first_line_span(record, message)
    assert line == "load is back under 40% now" and text[start:end] == line  # not the code block or the link
    assert judged_text(message) == "load is back under 40% now"


def _facts(*said: tuple[str, str | None, bool, int, frozenset[MessageKind]]) -> list[Fact]:
    """Facts made by hand, one a minute from 09:00: (text, kind, states back, sentences, sentence kinds)."""
    start = dt.datetime(2026, 3, 2, 9, 0)
    return [
        Fact(message=Message(ts=start + dt.timedelta(minutes=n), author="dana", text=text), kind=MessageKind(kind)
             if kind else None, impact=False, start=0, end=0, text=text, said=each, sentences=count, back=back)
        for n, (text, kind, back, count, each) in enumerate(said)
    ]


NONE: frozenset[MessageKind] = frozenset()


def test_the_first_signal_of_a_many_line_message_is_a_line_that_reports() -> None:
    facts = _facts(
        ("release day!; for real this time", "report", False, 2, frozenset({MessageKind.action})),
        ("hm; the old badges are still there; rolling back", None, False, 3, frozenset({MessageKind.report})),
        ("search is down for everyone", "report", False, 1, NONE),
    )
    assert first_signal(facts) is facts[1]


def test_recovery_is_the_last_statement_that_things_are_back_and_the_fix_comes_before_the_first() -> None:
    facts = _facts(
        ("the login page is down", "report", False, 1, NONE),
        ("restarted the auth pods", "action", False, 1, NONE),
        ("that made it worse, everything times out now", "made_worse", False, 1, NONE),
        ("turned the new session store off", "action", False, 1, NONE),
        ("[RESOLVED] LoginErrors", "recovery", True, 1, NONE),
        ("logins work again; errors at zero for ten minutes", None, True, 2, frozenset({MessageKind.recovery})),
        ("thanks all", None, False, 1, NONE),
    )
    first = first_signal(facts)
    assert first is facts[0]
    last = recovery_statement(facts, first)
    assert last is facts[5]  # the last statement, not the first sign while the fix goes out
    assert turning_point(facts, first, last) is facts[4]  # the fix is the step before the first sign


def test_a_line_that_repeats_the_speakers_name_is_cited_where_it_stands(tmp_path: Path) -> None:
    """A link preview starts with its author's name, which is also the speaker's: the cited line is the
    preview's, below the speaker line, never the speaker line itself."""
    path = tmp_path / "review.md"
    path.write_text(
        "# Review\n\n## Chat\n\n> dana [4:30 PM]\nbuilds are failing everywhere\n\n"
        "> dana [4:40 PM]\nhttps://example.com/org/repo/pull/11205\ndana\n"
        '#11205 Revert "Bump the scheduler to v2"\n\n> li [4:52 PM]\nbuilds pass again\n'
    )
    (record,) = [r for r in parse_unit(discover([path])[0][0], ParseOptions(kind=Kind.chat)) if r.messages]
    revert = next(f for f in classify(record) if "Revert" in f.message.text)
    assert "[4:40 PM]" not in revert.text and "#11205 Revert" in revert.text
    assert record.text[revert.start : revert.end].startswith("dana\n#11205")


CHAT_WITH_AN_EXPLANATION = """\
[2025-06-03 10:00:00] alertmanager: [FIRING:1] HighLatency (service=search cluster=prod)
[2025-06-03 10:02:00] bob: looking
[2025-06-03 10:04:00] bob: p99 is 4s on search, the cache hit rate is near zero
[2025-06-03 10:06:00] bob: restarted the search pods with the cache warmed
[2025-06-03 10:09:00] bob: latency is back to normal, p99 180ms
[2025-06-03 10:21:00] alice: found it. the cache TTL was set to zero by monday's config change. latency was fine until 09:55, now it is back under 200ms
"""


def test_an_explanation_that_mentions_things_are_back_is_not_the_recovery(tmp_path: Path) -> None:
    path = tmp_path / "2025-06-03-search-latency.txt"
    path.write_text(CHAT_WITH_AN_EXPLANATION)
    (record,) = chat_records(path)
    facts = classify(record)
    first = first_signal(facts)
    last = recovery_statement(facts, first)
    assert first is not None and first.message.author == "alertmanager"
    assert last is not None and last.message.author == "bob" and last.text.startswith("latency is back")
    fault = [f.text for f in facts if f.fault]
    assert any(t.startswith("found it.") for t in fault)  # it explains: it is the fault, not the recovery
