"""`kb serve`'s HTTP side over a real loopback socket, with a deterministic enricher passed through its seam
(``build_app(enrich=...)``) and a loopback receiver standing in for Slack."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kb.alerting.models import AlertGroup, Enrichment, PastIncident, RunbookMatch
from kb.alerting.slack_check import problems
from kb.alerting.verify import pagerduty_signature
from kb.core.settings import Settings
from kb.knowledge import KnowledgeBase
from tests.serve_kit import HOOK_PATH, Receiver, alertmanager_payload, pagerduty_event
from ui.serve.app import App, build_app
from ui.serve.handler import MAX_CONNECTIONS, MAX_SYNC_ENRICH, Server

TOKEN = "am-t0ken-value"
PD_SECRET = "pd-s3cret-value"


class Enricher:
    """Answers every group with the same past incident; ``gate`` holds it until the test lets it go."""

    def __init__(self) -> None:
        self.groups: list[AlertGroup] = []
        self.gate = threading.Event()
        self.gate.set()
        self.fail = False
        self.waiting = 0  # calls held at the gate

    def __call__(self, kb: KnowledgeBase, group: AlertGroup) -> Enrichment:
        self.waiting += 1
        self.gate.wait(10)
        self.groups.append(group)
        if self.fail:
            raise RuntimeError("the store went away")
        past = PastIncident("2023-03-09-orders-db", "orders-db connection exhaustion", "2023-03-09", "SEV2",
                            ("orders-db",), "strong", "pool exhausted", 5460)
        runbook = RunbookMatch("pgbouncer-pool-exhausted", "PgBouncer pool exhausted", "strong", "SHOW POOLS", 4320)
        return Enrichment(group, (past,), runbook, "", (), "the documents (no LLM)")


@pytest.fixture
def slack() -> Iterator[Receiver]:
    with Receiver() as receiver:
        yield receiver


def start(tmp_path: Path, slack: Receiver | None, enricher: Enricher, connections: int = MAX_CONNECTIONS,
          **settings: Any) -> tuple[App, Server, str]:
    values: dict[str, Any] = {"data_dir": tmp_path / "kb", "serve_token": TOKEN, "pagerduty_webhook_secret": PD_SECRET,
                              "ui_url": "https://kb.example.com", "slack_rate_per_s": 50.0, **settings}
    if slack is not None:
        values["slack_webhook_url"] = slack.url
    config = Settings(_env_file=None, **values)  # type: ignore[call-arg]
    app = build_app(config, KnowledgeBase(config), enrich=enricher)
    server = Server(("127.0.0.1", 0), app, max_connections=connections)
    app.start()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return app, server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def served(tmp_path: Path, slack: Receiver) -> Iterator[tuple[App, str, Enricher]]:
    enricher = Enricher()
    app, server, url = start(tmp_path, slack, enricher)
    try:
        yield app, url, enricher
    finally:
        enricher.gate.set()
        server.shutdown()
        server.server_close()
        app.stop()


def am(url: str, payload: dict[str, Any], token: str | None = TOKEN) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(f"{url}/alertmanager", json=payload, headers=headers)


def pd(url: str, payload: dict[str, Any], secret: str | None = PD_SECRET) -> httpx.Response:
    body = json.dumps(payload).encode()
    headers = {"X-PagerDuty-Signature": pagerduty_signature(body, secret)} if secret else {}
    return httpx.post(f"{url}/pagerduty", content=body, headers={**headers, "Content-Type": "application/json"})


def test_alertmanager_group_is_accepted_at_once_posted_once_and_repeats_are_not(
        served: tuple[App, str, Enricher], slack: Receiver) -> None:
    app, url, enricher = served
    enricher.gate.clear()  # the enrichment is slow: the sender is answered anyway
    first = am(url, alertmanager_payload(key="g1"))
    assert first.status_code == 202 and first.json() == {"status": "queued", "key": "g1"}
    repeat = am(url, alertmanager_payload(key="g1"))
    assert repeat.status_code == 200 and repeat.json()["status"] == "duplicate"
    enricher.gate.set()
    assert app.dispatcher.drained(10)
    got = slack.wait_for(1, 5)
    assert len(got) == 1 and got[0].path == HOOK_PATH
    msg = got[0].json()
    assert problems(msg) == []
    assert "https://kb.example.com/document?id=2023-03-09-orders-db&at=5460" in json.dumps(msg)
    assert [g.key for g in enricher.groups] == ["g1"]
    assert httpx.get(f"{url}/healthz").json()["counts"] == {"queued": 1, "duplicate": 1, "enriched": 1, "posted": 1}


def test_a_resolved_group_fires_anew(served: tuple[App, str, Enricher], slack: Receiver) -> None:
    app, url, _ = served
    assert am(url, alertmanager_payload(key="g2")).status_code == 202
    resolved = am(url, alertmanager_payload(key="g2", status="resolved"))
    assert resolved.status_code == 200 and resolved.json()["status"] == "ignored"
    assert am(url, alertmanager_payload(key="g2")).status_code == 202
    assert app.dispatcher.drained(10) and len(slack.wait_for(2, 5)) == 2


def test_a_failed_enrichment_is_released_for_the_next_resend(served: tuple[App, str, Enricher],
                                                             slack: Receiver) -> None:
    app, url, enricher = served
    enricher.fail = True
    assert am(url, alertmanager_payload(key="g3")).status_code == 202
    assert app.dispatcher.drained(10)
    enricher.fail = False
    assert am(url, alertmanager_payload(key="g3")).status_code == 202
    assert app.dispatcher.drained(10) and len(slack.wait_for(1, 5)) == 1
    assert app.dispatcher.counts["failed"] == 1


def test_token_and_signature_are_required_when_configured(served: tuple[App, str, Enricher]) -> None:
    _, url, _enricher = served
    assert am(url, alertmanager_payload(), token=None).status_code == 401
    assert am(url, alertmanager_payload(), token="wrong").status_code == 401
    assert pd(url, pagerduty_event(), secret=None).status_code == 401
    assert pd(url, pagerduty_event(), secret="another").status_code == 401
    ok = pd(url, pagerduty_event(incident_id="PX1"))
    assert ok.status_code == 202 and ok.json()["key"] == "PX1"
    assert pd(url, pagerduty_event(incident_id="PX1")).json()["status"] == "duplicate"  # PagerDuty's retry
    ack = pd(url, pagerduty_event(event_type="incident.acknowledged", incident_id="PX1"))
    assert ack.status_code == 200 and ack.json()["status"] == "ignored"


def test_hostile_bodies_get_a_clear_refusal(served: tuple[App, str, Enricher]) -> None:
    _, url, enricher = served
    auth = {"Authorization": f"Bearer {TOKEN}"}
    bad = httpx.post(f"{url}/alertmanager", content=b"{oops", headers=auth)
    assert bad.status_code == 400 and "invalid JSON at line 1, column 2" in bad.json()["error"]
    deep = httpx.post(f"{url}/alertmanager", content=b"[" * 200 + b"]" * 200, headers=auth)
    assert deep.status_code == 400 and "nested more than 64" in deep.json()["error"]
    big = httpx.post(f"{url}/alertmanager", content=b" " * (1024 * 1024 + 1), headers=auth)
    assert big.status_code == 413 and "over the 1048576 byte limit" in big.json()["error"]
    assert httpx.get(f"{url}/alertmanager").status_code == 404
    assert httpx.post(f"{url}/healthz").status_code == 405
    assert enricher.groups == []


def test_a_full_queue_answers_503_with_retry_after(tmp_path: Path, slack: Receiver) -> None:
    enricher = Enricher()
    enricher.gate.clear()
    app, server, url = start(tmp_path, slack, enricher, serve_queue=1)
    try:
        codes = [am(url, alertmanager_payload(key=f"q{n}")).status_code for n in range(4)]
        assert codes[:2] == [202, 202] and codes[-1] == 503  # one in the worker's hands, one waiting
        full = am(url, alertmanager_payload(key="q9"))
        assert full.headers["Retry-After"] == "30" and "queue is full" in full.json()["error"]
        enricher.gate.set()
        assert app.dispatcher.drained(10)
        assert am(url, alertmanager_payload(key="q9")).status_code == 202  # a refused group was not claimed
    finally:
        enricher.gate.set()
        server.shutdown()
        server.server_close()
        app.stop()


def test_the_synchronous_endpoint_returns_the_enrichment(served: tuple[App, str, Enricher], slack: Receiver) -> None:
    _app, url, _ = served
    alert = {"labels": {"alertname": "PgBouncerPoolExhausted", "service": "orders-db"},
             "annotations": {"summary": "clients waiting"}}
    reply = httpx.post(f"{url}/enrich", json=alert, headers={"Authorization": f"Bearer {TOKEN}"})
    assert reply.status_code == 200
    data = reply.json()
    assert data["group"]["source"] == "api" and "PgBouncerPoolExhausted" in data["group"]["text"]
    assert data["incidents"][0]["url"] == "https://kb.example.com/document?id=2023-03-09-orders-db&at=5460"
    assert data["runbook"]["doc_id"] == "pgbouncer-pool-exhausted"
    assert httpx.post(f"{url}/enrich", json=alert).status_code == 401
    assert slack.received == []  # returned to the caller, not posted


def test_connections_past_the_cap_are_answered_503_and_the_server_recovers(tmp_path: Path) -> None:
    """Connections that open and send nothing hold their threads; one more gets 503 at once, not a thread."""
    app, server, url = start(tmp_path, None, Enricher(), connections=2)
    port = server.server_address[1]
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
    try:
        threading.Event().wait(0.3)  # both accepted and waiting for a request line
        busy = httpx.get(f"{url}/healthz", timeout=5)
        assert busy.status_code == 503 and busy.headers["Retry-After"] == "30"
        assert "too many connections" in busy.json()["error"]
        for conn in idle:
            conn.close()
        for _ in range(50):  # their threads end when they see the connections close
            if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                break
            threading.Event().wait(0.1)
        assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
    finally:
        for conn in idle:
            conn.close()
        server.shutdown()
        server.server_close()
        app.stop()


def test_synchronous_enrichments_past_the_cap_are_answered_503(tmp_path: Path) -> None:
    enricher = Enricher()
    enricher.gate.clear()
    app, server, url = start(tmp_path, None, enricher)
    alert = {"labels": {"alertname": "PgBouncerPoolExhausted"}, "annotations": {"summary": "clients waiting"}}
    headers = {"Authorization": f"Bearer {TOKEN}"}
    held: list[int] = []
    callers = [threading.Thread(target=lambda: held.append(httpx.post(f"{url}/enrich", json=alert, headers=headers,
                                                                       timeout=20).status_code))
               for _ in range(MAX_SYNC_ENRICH)]
    try:
        for caller in callers:
            caller.start()
        for _ in range(50):
            if enricher.waiting == MAX_SYNC_ENRICH:  # every slot taken
                break
            threading.Event().wait(0.1)
        refused = httpx.post(f"{url}/enrich", json=alert, headers=headers, timeout=5)
        assert refused.status_code == 503 and "enrichments are running" in refused.json()["error"]
        enricher.gate.set()
        for caller in callers:
            caller.join(20)
        assert held == [200] * MAX_SYNC_ENRICH
        assert httpx.post(f"{url}/enrich", json=alert, headers=headers, timeout=20).status_code == 200
    finally:
        enricher.gate.set()
        server.shutdown()
        server.server_close()
        app.stop()


def test_no_slack_url_means_nothing_is_posted(tmp_path: Path, slack: Receiver) -> None:
    enricher = Enricher()
    app, server, url = start(tmp_path, None, enricher)
    try:
        assert httpx.get(f"{url}/healthz").json()["slack"] is False
        assert am(url, alertmanager_payload(key="n1")).status_code == 202
        assert app.dispatcher.drained(10) and [g.key for g in enricher.groups] == ["n1"]
    finally:
        server.shutdown()
        server.server_close()
        app.stop()
    assert slack.received == []


def test_no_secret_reaches_the_log(tmp_path: Path, slack: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    enricher = Enricher()
    slack.answers.extend([(500, {}), (429, {"Retry-After": "0"})])
    app, server, url = start(tmp_path, slack, enricher, slack_max_attempts=3)
    try:
        am(url, alertmanager_payload(key="s1"), token="wrong-guess-token")
        am(url, alertmanager_payload(key="s1"))
        body = json.dumps(pagerduty_event()).encode()
        signature = pagerduty_signature(body, PD_SECRET)
        httpx.post(f"{url}/pagerduty", content=body, headers={"X-PagerDuty-Signature": signature})
        assert app.dispatcher.drained(15) and len(slack.wait_for(4, 5)) == 4  # 3 tries of s1, 1 of PagerDuty
    finally:
        server.shutdown()
        server.server_close()
        app.stop()
    log = caplog.text
    assert "answered 500" in log and "posted alert group s1" in log  # the log says what happened...
    for secret in (TOKEN, PD_SECRET, "wrong-guess-token", signature[3:], "s3cr3t-hook-token", HOOK_PATH):
        assert secret not in log  # ...and never a secret


def test_kb_serve_refuses_a_slack_url_that_is_not_http_without_printing_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from ui.cli.main import run

    monkeypatch.chdir(tmp_path)  # no .env of the working directory
    monkeypatch.setenv("KB_SLACK_WEBHOOK_URL", "ftp://hooks.example/s3cr3t-value")
    assert run(["--data-dir", str(tmp_path / "kb"), "serve", "--port", "0"]) == 1
    err = capsys.readouterr().err
    assert "KB_SLACK_WEBHOOK_URL is not an http(s) address" in err and "s3cr3t-value" not in err


def test_keys_of_different_senders_do_not_stand_for_each_other(served: tuple[App, str, Enricher]) -> None:
    _, url, _ = served
    assert am(url, alertmanager_payload(key="P42")).status_code == 202
    assert pd(url, pagerduty_event(incident_id="P42")).status_code == 202
    # a PagerDuty resolve does not release the Alertmanager group of the same key
    pd(url, pagerduty_event(event_type="incident.resolved", incident_id="P42"))
    assert am(url, alertmanager_payload(key="P42")).json()["status"] == "duplicate"
