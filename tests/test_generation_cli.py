"""`kb runbook` and `kb summarize` on the sample corpus with the real model and store, through the CLI,
offline and with KB_LLM_BASE_URL pointing at an OpenAI-protocol server on loopback."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kb.gameday.scoring import POINTS
from tests.conftest import ROOT, sample_store_copy
from tests.openai_server import OpenAIServer, Reply, grounded

pytestmark = pytest.mark.slow


def kb(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("KB_") or k == "KB_CACHE_DIR"} | (env or {})
    return subprocess.run(
        [sys.executable, "-m", "ui.cli.main", "--data-dir", str(data_dir), *args],
        capture_output=True, text=True, cwd=ROOT, timeout=600, check=False, env=full_env,
    )


@pytest.fixture(scope="module")
def store(pristine_sample_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sample_store_copy(pristine_sample_store, tmp_path_factory.mktemp("gen") / "store")


def texts(store: Path, doc_ids: set[str]) -> dict[str, str]:
    return {d: json.loads(kb(store, "show", d, "--json").stdout)["text"] for d in doc_ids}


def assert_cited(store: Path, items: list[dict]) -> None:  # type: ignore[type-arg]
    docs = texts(store, {c["doc_id"] for i in items for c in i["citations"]})
    for item in items:
        assert item["citations"], item
        for c in item["citations"]:
            assert docs[c["doc_id"]][c["start"] : c["end"]].startswith(c["quote"])


@pytest.mark.parametrize(
    ("topic", "expect"),
    [
        ("pgbouncer pool exhausted, clients waiting", "pg_terminate_backend"),
        ("redis sentinel failover logs users out", "SENTINEL"),
        ("search cluster disk flood stage, indices read-only", "read_only_allow_delete"),
    ],
)
def test_offline_runbook_drafts_for_three_symptoms(store: Path, topic: str, expect: str) -> None:
    result = kb(store, "runbook", "draft", topic, "--json")
    assert result.returncode == 0, result.stderr
    draft = json.loads(result.stdout)
    assert draft["generator"] == "extractive" and draft["sources"]
    assert expect in draft["markdown"]
    sections = [i["section"] for i in draft["items"]]
    order = ["overview", "symptoms", "triage", "diagnosis", "mitigation", "verification", "escalation"]
    assert sections == sorted(sections, key=order.index) and "mitigation" in sections
    assert_cited(store, draft["items"])


def test_update_apply_history_and_stale(store: Path, tmp_path: Path) -> None:
    stale = json.loads(kb(store, "runbook", "stale", "--json").stdout)
    assert "pgbouncer-pool-exhausted" in [s["runbook_id"] for s in stale]
    result = kb(store, "runbook", "update", "pgbouncer-pool-exhausted", "--json")
    assert result.returncode == 0, result.stderr
    proposal = json.loads(result.stdout)
    added = "\n".join(ln for ln in proposal["diff"].splitlines() if ln.startswith("+"))
    assert "idle in transaction" in added  # what the 2026-01-21 incident taught
    assert proposal["hunks"] and any(h["citations"] for h in proposal["hunks"])
    assert "2026-01-21-pgbouncer-idle-in-transaction" in " ".join(proposal["sources"])
    printed = kb(store, "runbook", "update", "pgbouncer-pool-exhausted")
    printed_id = re.search(r"^approve with: +kb runbook apply (\S+)$", printed.stdout, re.M)
    assert printed_id and (store / "proposals" / f"{printed_id[1]}.json").exists()  # an id, not a path
    # a copy outside the data directory's proposal store is not applied, nor is a path climbing out of it
    outside = tmp_path / "proposal.json"
    outside.write_text(Path(proposal["proposal"]).read_text())
    for ref in (str(outside), f"{store}/proposals/../../{outside.name}"):
        refused = kb(store, "runbook", "apply", ref)
        assert refused.returncode == 1 and "not in the proposal store" in refused.stderr, refused.stderr
    assert "proposals/ folder" in " ".join(kb(store, "runbook", "apply", "--help").stdout.split())
    applied = kb(store, "runbook", "apply", proposal["proposal_id"], "--json")
    assert applied.returncode == 0, applied.stderr
    assert json.loads(applied.stdout)["revision"]["number"] == 2
    history = json.loads(kb(store, "runbook", "history", "pgbouncer-pool-exhausted", "--json").stdout)
    assert [r["number"] for r in history] == [1, 2]
    shown = json.loads(kb(store, "show", "pgbouncer-pool-exhausted", "--json").stdout)
    assert "learned from 2026-01-21" in shown["text"]
    stale_after = json.loads(kb(store, "runbook", "stale", "--json").stdout)
    assert "pgbouncer-pool-exhausted" not in [s["runbook_id"] for s in stale_after]
    again = kb(store, "runbook", "apply", proposal["proposal"])
    assert again.returncode == 1 and "this proposal was already applied" in again.stderr


def test_summaries_of_stored_chat_logs(store: Path) -> None:
    for chat in ("2026-01-21-pgbouncer-idle-in-transaction", "2024-09-05-checkout-bad-migration"):
        result = kb(store, "summarize", chat, "--json")
        assert result.returncode == 0, result.stderr
        summary = json.loads(result.stdout)
        timeline = [i for i in summary["items"] if i["section"] == "timeline"]
        assert len(timeline) >= 8 and all(i["time"] and i["who"] for i in timeline)
        assert any(i["section"] == "action items" for i in summary["items"]) or "Action items" in summary["markdown"]
        assert_cited(store, summary["items"])


def test_summarize_a_file_that_is_not_stored(store: Path, tmp_path: Path) -> None:
    log = tmp_path / "2026-02-01-new.txt"
    log.write_text(
        "[2026-02-01 09:00:00] alertmanager: [FIRING:1] KafkaConsumerLagHigh (service=notifications)\n"
        "[2026-02-01 09:02:00] dana: I'm IC. paging data-oncall\n"
        "[2026-02-01 09:05:00] dana: $ kubectl -n notifications rollout restart deploy/notifier\n"
        "[2026-02-01 09:20:00] dana: lag draining, error rate back to normal\n"
        "[2026-02-01 09:30:00] dana: resolved. TODO: add an alert on consumer restarts\n"
    )
    result = kb(store, "summarize", str(log), "--out", str(tmp_path / "pm.md"))
    assert result.returncode == 0, result.stderr
    md = (tmp_path / "pm.md").read_text()
    assert "09:05 **dana** (action)" in md and "- [ ] resolved. TODO: add an alert on consumer restarts" in md
    # a folder: one blank file is skipped (and said), the log in it is summarised
    (tmp_path / "blank.txt").write_text("")
    folder = kb(store, "summarize", str(tmp_path), "--json")
    assert folder.returncode == 0, folder.stderr
    assert "skipped" in folder.stderr and "blank.txt: empty file" in folder.stderr
    missing = kb(store, "summarize", str(tmp_path / "nowhere") + "/")
    assert missing.returncode == 1 and "no such file or folder" in missing.stderr


def test_the_same_commands_through_an_llm_server(store: Path) -> None:
    def section(request: dict, text: str) -> str:  # type: ignore[type-arg]
        return "response" if "postmortem" in request["messages"][0]["content"] else "mitigation"

    with OpenAIServer([Reply(respond=grounded(section))], model="tiny") as server:
        env = {"KB_LLM_BASE_URL": server.base_url, "KB_LLM_MODEL": "tiny", "KB_LLM_API_KEY": "sk-cli-SECRET"}
        draft = kb(store, "runbook", "draft", "pgbouncer pool exhausted", "--json", env=env)
        assert draft.returncode == 0, draft.stderr
        out = json.loads(draft.stdout)
        assert out["generator"] == "llm" and out["model"] == "tiny"
        assert_cited(store, out["items"])
        summary = kb(store, "summarize", "2024-09-05-checkout-bad-migration", "--json",
                     env=env | {"KB_LLM_MODEL": "tiny"})
        assert summary.returncode == 0, summary.stderr
        assert json.loads(summary.stdout)["generator"] == "llm"
        offline = kb(store, "runbook", "draft", "pgbouncer pool exhausted", "--json", "--no-llm", env=env)
        assert json.loads(offline.stdout)["generator"] == "extractive"
        assert len(server.requests) == 2
        assert "sk-cli-SECRET" not in draft.stderr + summary.stderr
    # the server is gone now: a clear error, not a traceback
    gone = kb(store, "runbook", "draft", "pgbouncer pool exhausted", env=env | {"KB_LLM_MAX_RETRIES": "0"})
    assert gone.returncode == 1 and "cannot reach the LLM" in gone.stderr and "Traceback" not in gone.stderr
    unknown_env = env | {"KB_LLM_MODEL": "no-such-model"}
    with OpenAIServer([Reply(content="{}")], model="tiny") as server:
        unknown_env["KB_LLM_BASE_URL"] = server.base_url
        unknown = kb(store, "summarize", "2024-09-05-checkout-bad-migration", env=unknown_env)
    assert unknown.returncode == 1 and "does not know the model 'no-such-model'" in unknown.stderr
    # a model too small to answer in the schema: its reply is set aside and the output says so
    with OpenAIServer([Reply(content="Sure! The pool was exhausted.")], model="tiny") as server:
        small = env | {"KB_LLM_BASE_URL": server.base_url, "KB_SERVICE": "off"}
        summary = kb(store, "summarize", "2024-09-05-checkout-bad-migration", env=small)
        answer = kb(store, "ask", "how do I fix pgbouncer pool exhaustion?", env=small)
    assert summary.returncode == 0 and answer.returncode == 0, summary.stderr + answer.stderr
    assert "> The reply of tiny could not be used (" in summary.stdout and "## Timeline" in summary.stdout
    assert "(The reply of tiny could not be used (" in answer.stdout and "pgbouncer-pool-exhausted" in answer.stdout


def play(store: Path, scenario: str, script: str, *extra: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("KB_") or k == "KB_CACHE_DIR"}
    return subprocess.run(
        [sys.executable, "-m", "ui.cli.main", "--data-dir", str(store), "gameday", "play", scenario, *extra],
        input=script, capture_output=True, text=True, cwd=ROOT, timeout=600, check=False, env=full_env,
    )


def test_gameday_through_the_cli(store: Path, tmp_path: Path) -> None:
    built = kb(store, "gameday", "new", "--from", "2024-09-05-checkout-rollback-bad-migration", "--json")
    assert built.returncode == 0, built.stderr
    scenario = json.loads(built.stdout)
    assert "truth" not in scenario and scenario["clues"] and not any("citations" in c for c in scenario["clues"])
    assert "bad-migration" not in built.stdout  # the id names the cause: only --reveal shows it
    revealed = json.loads(kb(store, "gameday", "show", scenario["id"], "--reveal", "--json").stdout)
    assert revealed["source_id"] == "2024-09-05-checkout-rollback-bad-migration"
    assert all(c["citations"] for c in revealed["clues"])
    assert "CONCURRENTLY" in revealed["truth"]["root_cause"]
    rubric = revealed["truth"]["rubric"]  # the points shown are the points scored
    assert rubric and all(i["points"] == POINTS[i["kind"]] for i in rubric)
    wheel = kb(store, "gameday", "new", "--random", "--seed", "7", "--service", "checkout", "--difficulty", "hard")
    assert wheel.returncode == 0 and "built gd-" in wheel.stdout and " from " not in wheel.stdout
    listed = json.loads(kb(store, "gameday", "list", "--json").stdout)
    assert scenario["id"] in [s["id"] for s in listed] and not any(s["stale"] for s in listed)

    solved = play(store, scenario["id"], "what changed recently?\nwhat is the root cause?\nroll back the deploy\n"
                  "cancel the CREATE INDEX on orders\n", "--as", "alex", "--out", str(tmp_path / "debrief.md"))
    assert solved.returncode == 0, solved.stderr
    assert "v5.14.0" in solved.stdout and "revealed in the debrief" in solved.stdout
    assert "unchanged at 38%" in solved.stdout and "it is what ended the real incident" in solved.stdout
    assert "outcome: mitigated" in (tmp_path / "debrief.md").read_text()
    gave_up = play(store, scenario["id"], "show me the logs\n", "--as", "bo", "--json")  # input ends: gives up
    session = json.loads(gave_up.stdout)
    assert session["outcome"] == "gave up" and session["score"] is not None and session["turns"]
    history = json.loads(kb(store, "gameday", "history", "--json").stdout)
    assert {h["trainee"] for h in history} >= {"alex", "bo"}
    assert "average score per trainee" in kb(store, "gameday", "history").stdout


def test_no_planted_secret_reaches_anything_written(store: Path) -> None:
    """After drafts, proposals, revisions, summaries and game days: scan every file of the data directory."""
    kb(store, "runbook", "update", "pgbouncer-pool-exhausted", "--json")
    kb(store, "gameday", "new", "--from", "2026-01-21-pgbouncer-idle-in-transaction-postmortem")
    secrets = [
        line.strip()
        for f in sorted((ROOT / "tests" / "planted_secrets").glob("*.txt"))
        for line in f.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    written = [p for p in store.rglob("*") if p.is_file()]
    assert any(p.suffix == ".json" and "proposals" in p.parts for p in written)
    raw = b"".join(p.read_bytes() for p in written)
    leaked = [s[:6] for s in secrets if s.encode() in raw]
    assert leaked == [], f"planted secrets found in the data directory: {leaked}"
