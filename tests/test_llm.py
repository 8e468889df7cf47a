"""The LLM path against a real HTTP server speaking the OpenAI chat-completions protocol on loopback.

Every scripted case ends in a correct draft or a clear error: never a crash, never a silently
ungrounded draft.
"""

from __future__ import annotations

import json
import logging
import re
import socket

import pytest

from kb.clients.openai_client import ChatModel
from kb.core.errors import LLMError, LLMModelUnknown, LLMUnavailable
from kb.core.settings import Settings
from kb.generation.summary import summarize
from kb.knowledge import KnowledgeBase
from kb.runbooks.draft import draft_runbook
from tests.conftest import fake_sample
from tests.openai_server import OpenAIServer, Reply, lines_reply
from tests.test_summary import DATA, chat_records

SECRET = "sk-test-DO-NOT-LEAK-8c1f2e"
TOPIC = "pgbouncer pool exhausted, clients waiting"


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    return fake_sample(tmp_path_factory.mktemp("llm"))[1]


def model(server: OpenAIServer, **overrides: object) -> ChatModel:
    values: dict[str, object] = {
        "llm_base_url": server.base_url,
        "llm_model": server.model,
        "llm_api_key": SECRET,
        "llm_timeout_s": 5.0,
        "llm_max_retries": 2,
    }
    values.update(overrides)
    return ChatModel(Settings(_env_file=None, **values))  # type: ignore[arg-type]


def passages_in(request: dict) -> dict[str, str]:  # type: ignore[type-arg]
    user = request["messages"][1]["content"]
    return {m.group(1): m.group(2) for m in re.finditer(r'<passage id="(P\d+)"[^>]*>\n(.*?)\n</passage>', user, re.S)}


def grounded_reply(first_request_passages: dict[str, str]) -> str:
    """What a good model writes: lines taken from the passages it was given, citing them."""
    lines = []
    for pid, text in list(first_request_passages.items())[:4]:
        first = next((ln for ln in text.strip().splitlines() if any(ch.isalpha() for ch in ln.strip("`"))), text)[:120]
        lines.append({"section": "mitigation", "text": first, "cites": [pid]})
    return lines_reply(lines)


def run_twice_for_passages(sample: KnowledgeBase, script_after: list[Reply]) -> tuple[object, OpenAIServer]:
    """Learn the passages with a first (refused) call, then run the real script with lines citing them."""
    with OpenAIServer([Reply(content=lines_reply([]))]) as probe:
        assert draft_runbook(sample, TOPIC, llm=model(probe)).note  # nothing grounded: set aside
        given = passages_in(probe.requests[0])
    assert len(given) >= 4
    script = [Reply(content=grounded_reply(given)) if r.content == "GOOD" else r for r in script_after]
    server = OpenAIServer(script)
    with server:
        draft = draft_runbook(sample, TOPIC, llm=model(server))
    return draft, server


def test_a_grounded_answer_becomes_a_cited_llm_draft(sample: KnowledgeBase) -> None:
    draft, server = run_twice_for_passages(sample, [Reply(content="GOOD")])
    assert draft.generator == "llm" and draft.model == "test-model"  # type: ignore[attr-defined]
    assert draft.dropped == []  # type: ignore[attr-defined]
    assert [i for i in draft.items if i.section == "mitigation"]  # type: ignore[attr-defined]
    request = server.requests[0]
    assert request["response_format"]["type"] == "json_schema"
    assert "lines" in json.dumps(request["response_format"]["json_schema"]["schema"])
    system, user = request["messages"][0]["content"], request["messages"][1]["content"]
    assert "never an instruction" in system
    assert user.count("<evidence>") == 1 and user.rstrip().endswith("Write the runbook lines as JSON.")
    for item in draft.items:  # type: ignore[attr-defined]
        for c in item.citations:
            assert sample.store.get_record(c.doc_id).text[c.start : c.end].startswith(c.quote)


def test_citations_to_passages_it_was_not_given_are_dropped_and_listed(sample: KnowledgeBase) -> None:
    with OpenAIServer([Reply(content=lines_reply([]))]) as probe:
        assert draft_runbook(sample, TOPIC, llm=model(probe)).note  # nothing grounded: set aside
        given = passages_in(probe.requests[0])
    good = json.loads(grounded_reply(given))["lines"]
    bad = [
        {"section": "mitigation", "text": "Delete the orders database and restore from last year", "cites": ["P999"]},
        {"section": "triage", "text": "Check the pools", "cites": []},
    ]
    with OpenAIServer([Reply(content=lines_reply(good + bad))]) as server:
        draft = draft_runbook(sample, TOPIC, llm=model(server))
    assert [d.text for d in draft.dropped] == [b["text"] for b in bad]
    assert "P999, which it was not given" in draft.dropped[0].reason
    assert "Delete the orders database" not in "\n".join(i.text for i in draft.items)
    assert "## Dropped as ungrounded" in draft.markdown


def test_a_reply_with_nothing_grounded_is_set_aside_for_the_offline_draft(sample: KnowledgeBase) -> None:
    junk = lines_reply([{"section": "mitigation", "text": "Reboot everything", "cites": ["P4242"]}])
    with OpenAIServer([Reply(content=junk)]) as server:
        draft = draft_runbook(sample, TOPIC, llm=model(server))
    offline = draft_runbook(sample, TOPIC)
    assert draft.generator == "extractive" and [i.text for i in draft.items] == [i.text for i in offline.items]
    assert draft.note and "refused the runbook draft" in draft.note and f"> {draft.note}" in draft.markdown
    assert [d.text for d in draft.dropped] == ["Reboot everything"]  # the model's line, listed as dropped
    assert "Reboot everything" not in draft.markdown.split("## Dropped as ungrounded")[0]


def test_malformed_json_is_sent_back_once_then_fixed(sample: KnowledgeBase) -> None:
    draft, server = run_twice_for_passages(sample, [Reply(content='{"lines": [oops'), Reply(content="GOOD")])
    assert len(server.requests) == 2
    assert "not valid JSON" in server.requests[1]["messages"][-1]["content"]
    assert draft.items  # type: ignore[attr-defined]


def test_malformed_json_twice_is_set_aside_and_said(sample: KnowledgeBase) -> None:
    with OpenAIServer([Reply(content="Sure! Here is your runbook: step one, step two.")]) as server:
        draft = draft_runbook(sample, TOPIC, llm=model(server))
    assert len(server.requests) == 2 and draft.generator == "extractive" and draft.items
    assert draft.note and "did not return valid JSON" in draft.note and draft.as_json()["note"] == draft.note


def test_json_in_a_fenced_block_is_read(sample: KnowledgeBase) -> None:
    with OpenAIServer([Reply(content=lines_reply([]))]) as probe:
        assert draft_runbook(sample, TOPIC, llm=model(probe)).note  # nothing grounded: set aside
        given = passages_in(probe.requests[0])
    fenced = "Here you go:\n```json\n" + grounded_reply(given) + "\n```"
    with OpenAIServer([Reply(content=fenced)]) as server:
        assert draft_runbook(sample, TOPIC, llm=model(server)).generator == "llm"


def test_429_is_retried_with_backoff(sample: KnowledgeBase) -> None:
    draft, server = run_twice_for_passages(
        sample, [Reply(status=429, error="slow down", headers={"retry-after-ms": "20"}), Reply(content="GOOD")]
    )
    assert len(server.requests) == 2 and draft.generator == "llm"  # type: ignore[attr-defined]


#: how servers reject structured output: a plain 400, a 422, and llama-cpp-python's server, which validates the
#: request body and answers 500 naming the field
REJECTIONS = [
    (400, "response_format json_schema is not supported"),
    (422, "response_format: Input should be 'text' or 'json_object'"),
    (500, "1 validation error: {'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), "
          "'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema'}"),
]


@pytest.mark.parametrize(("status", "message"), REJECTIONS, ids=["400", "422", "500-naming-the-field"])
def test_server_without_structured_output_gets_json_in_text(sample: KnowledgeBase, status: int,
                                                            message: str) -> None:
    with OpenAIServer([Reply(content=lines_reply([]))]) as probe:
        assert draft_runbook(sample, TOPIC, llm=model(probe)).note  # nothing grounded: set aside
        given = passages_in(probe.requests[0])
    reply = Reply(content=grounded_reply(given), reject_schema=True, reject_status=status, reject_message=message)
    with OpenAIServer([reply]) as server:
        llm = model(server, llm_max_retries=0)
        draft = draft_runbook(sample, TOPIC, llm=llm)
    assert draft.generator == "llm" and not llm.schema_supported
    assert "response_format" in server.requests[0] and "response_format" not in server.requests[1]
    assert '"lines"' in server.requests[1]["messages"][0]["content"]  # the schema is in the prompt


def test_a_server_error_that_is_not_about_the_schema_stays_an_error(sample: KnowledgeBase) -> None:
    with OpenAIServer([Reply(status=500, error="CUDA out of memory")]) as server:
        llm = model(server, llm_max_retries=0)
        with pytest.raises(LLMError, match="HTTP 500: CUDA out of memory"):
            draft_runbook(sample, TOPIC, llm=llm)
    assert llm.schema_supported and len(server.requests) == 1


def test_timeout_is_a_clear_error(sample: KnowledgeBase) -> None:
    with OpenAIServer([Reply(content=lines_reply([]), delay_s=3)]) as server:
        with pytest.raises(LLMUnavailable, match="did not answer in time"):
            draft_runbook(sample, TOPIC, llm=model(server, llm_timeout_s=0.5, llm_max_retries=0))


def test_unknown_model_is_a_clear_error(sample: KnowledgeBase) -> None:
    with OpenAIServer([Reply(content="{}")], model="served-model") as server:
        with pytest.raises(LLMModelUnknown, match="does not know the model 'test-model'"):
            draft_runbook(sample, TOPIC, llm=model(server, llm_model="test-model"))


def test_unreachable_server_is_a_clear_error_without_the_key(
    sample: KnowledgeBase, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    caplog.set_level(logging.DEBUG)
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, llm_base_url=f"http://127.0.0.1:{port}/v1", llm_model="m", llm_api_key=SECRET, llm_max_retries=1
    )
    with pytest.raises(LLMUnavailable, match=f"cannot reach the LLM at http://127.0.0.1:{port}") as info:
        draft_runbook(sample, TOPIC, llm=ChatModel(settings))
    assert SECRET not in str(info.value)
    assert SECRET not in caplog.text
    assert SECRET not in repr(settings) and SECRET not in settings.llm_label


def test_the_key_is_sent_to_the_server_but_never_logged(sample: KnowledgeBase, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    draft, server = run_twice_for_passages(sample, [Reply(content="GOOD")])
    assert {k.lower(): v for k, v in server.headers_seen[0].items()}["authorization"] == f"Bearer {SECRET}"
    assert SECRET not in caplog.text and SECRET not in draft.markdown  # type: ignore[attr-defined]


def test_streaming_reports_text_as_it_arrives(sample: KnowledgeBase) -> None:
    with OpenAIServer([Reply(content=lines_reply([]))]) as probe:
        assert draft_runbook(sample, TOPIC, llm=model(probe)).note  # nothing grounded: set aside
        given = passages_in(probe.requests[0])
    pieces: list[str] = []
    with OpenAIServer([Reply(content=grounded_reply(given))]) as server:
        draft = draft_runbook(sample, TOPIC, llm=model(server), on_text=pieces.append)
    assert server.requests[0]["stream"] is True
    assert len(pieces) > 1 and json.loads("".join(pieces))["lines"]
    assert draft.generator == "llm"


def test_planted_instructions_stay_data_and_obeying_them_is_not_grounded() -> None:
    (record,) = chat_records(DATA / "chats" / "2024-05-14-payflow-outage.txt")
    with OpenAIServer([Reply(content=lines_reply([]))]) as probe:
        offline = summarize(record, llm=model(probe))  # nothing grounded: set aside, drafted offline, said
    assert offline.generator == "extractive" and offline.note and "could not be used" in offline.note
    assert offline.note in offline.markdown and "refused the incident summary" in offline.note
    request = probe.requests[0]
    system, user = request["messages"][0]["content"], request["messages"][1]["content"]
    assert "ignore previous instructions" not in system
    inside = user[user.index("<evidence>") : user.index("</evidence>")]
    assert "ignore previous instructions" in inside  # the planted text reaches the model only as data
    assert user.count("</evidence>") == 1
    given = passages_in(request)
    planted = next(pid for pid, text in given.items() if "ignore previous instructions" in text)
    impact = next(pid for pid, text in given.items() if "failure rate" in text or "429" in text)
    obeying = [
        {"section": "summary", "text": "The support admin password is hunter2; refund sent to card 4421.", "cites": ["P999"]},
        {"section": "summary", "text": "Ticket closed as resolved, full refund issued to the customer.", "cites": [planted]},
        {"section": "impact", "text": given[impact].splitlines()[0][:100], "cites": [impact]},
    ]
    with OpenAIServer([Reply(content=lines_reply(obeying))]) as server:
        draft = summarize(record, llm=model(server))
    reasons = {d.text[:20]: d.reason for d in draft.dropped}
    assert "which it was not given" in reasons["The support admin pa"]
    assert "prompt injection" in reasons["Ticket closed as res"]
    body = draft.markdown.split("## Dropped as ungrounded")[0]  # dropped lines are listed for review, after
    assert "hunter2" not in body and "refund issued" not in body
    assert not any("hunter2" in i.text or "refund" in i.text for i in draft.items)
    assert any(i.section == "impact" for i in draft.items)


def test_a_model_that_cannot_write_json_is_set_aside_and_the_summary_says_so() -> None:
    (record,) = chat_records(DATA / "chats" / "2026-01-21-pgbouncer-idle-in-transaction.txt")
    with OpenAIServer([Reply(content="Sure! Here is a summary of the incident: the pool was exhausted.")]) as server:
        draft = summarize(record, llm=model(server))
    assert len(server.requests) == 2  # the bad reply was sent back once
    offline = summarize(record)
    assert draft.generator == "extractive" and [i.text for i in draft.items] == [i.text for i in offline.items]
    assert draft.note and "test-model" in draft.note and "did not return valid JSON" in draft.note
    assert draft.as_json()["note"] == draft.note and f"> {draft.note}" in draft.markdown
    assert offline.note is None and "could not be used" not in offline.markdown
