"""End to end with real parts: a real Alertmanager routes a posted alert to `kb serve` (over a copy of the
ingested sample corpus, with the real enrichment), which posts one Slack message to a loopback receiver
standing in for Slack's incoming webhook. The message is checked against Slack's documented format and
must name a past incident and a runbook of the sample corpus that are about the alert; Alertmanager's
re-sends of the same group are not posted again."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import yaml

from kb.alerting.slack_check import problems
from tests.conftest import DATA, free_port, sample_store_copy
from tests.serve_kit import HOOK_PATH, Receiver

pytestmark = pytest.mark.slow

ALERTMANAGER = Path("/usr/bin/prometheus-alertmanager")
TOKEN = "e2e-serve-t0ken"
UI = "https://kb.example.com/"
ALERT = {"alertname": "KafkaConsumerLagHigh", "service": "payments", "severity": "critical"}


def get_json(url: str) -> dict[str, object]:
    data: dict[str, object] = httpx.get(url, timeout=5).json()
    return data


def counts(url: str) -> dict[str, int]:
    """What `kb serve` has counted (queued, duplicate, enriched, posted, failed)."""
    found = get_json(f"{url}/healthz")["counts"]
    assert isinstance(found, dict)
    return {str(k): int(v) for k, v in found.items()}


def wait_until(check: object, what: str, timeout: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if callable(check) and check():
                return
        except (OSError, httpx.HTTPError):
            pass
        time.sleep(0.25)
    tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    pytest.fail(f"{what} within {timeout:.0f} s\n{tail}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=15)


@pytest.fixture(scope="module")
def slack() -> Iterator[Receiver]:
    with Receiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def serve(pristine_sample_store: Path, tmp_path_factory: pytest.TempPathFactory, slack: Receiver
          ) -> Iterator[tuple[str, Path]]:
    """`kb serve` on a free loopback port over a copy of the sample store, posting to ``slack``."""
    base = tmp_path_factory.mktemp("serve")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_") or k == "KB_CACHE_DIR"}
    port = free_port()
    env.update(KB_DATA_DIR=str(sample_store_copy(pristine_sample_store, base / "store")), KB_SERVE_TOKEN=TOKEN,
               KB_SLACK_WEBHOOK_URL=slack.url, KB_UI_URL=UI, KB_SERVE_PORT=str(port), KB_SERVICE="off")
    log_path = base / "serve.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "ui.cli.main", "serve"], env=env, cwd=base, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: proc.poll() is None and get_json(f"{url}/healthz")["status"] == "ok",
                   "kb serve did not come up", 600, log_path)  # it loads and warms up before it listens
        yield url, log_path
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def alertmanager(serve: tuple[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Alertmanager on loopback whose only receiver is `kb serve`, re-sending a firing group every 2 s."""
    if not ALERTMANAGER.exists():
        pytest.skip(f"{ALERTMANAGER} is missing: install Debian's prometheus-alertmanager package")
    base = tmp_path_factory.mktemp("alertmanager")
    config = {
        "route": {"receiver": "kb", "group_by": ["alertname"], "group_wait": "1s", "group_interval": "1s",
                  "repeat_interval": "2s"},
        "receivers": [{"name": "kb", "webhook_configs": [{
            "url": f"{serve[0]}/alertmanager", "send_resolved": True,
            "http_config": {"authorization": {"credentials": TOKEN}}}]}],
    }
    (base / "alertmanager.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log_path = base / "alertmanager.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [str(ALERTMANAGER), f"--config.file={base / 'alertmanager.yml'}", f"--storage.path={base / 'data'}",
             "--cluster.listen-address=", f"--web.listen-address=127.0.0.1:{port}"],
            cwd=base, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.get(f"{url}/-/ready", timeout=2).status_code == 200,
                   "Alertmanager did not come up", 60, log_path)
        yield url
    finally:
        stop(proc)


def front_matter_alerts(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---"):
        return []
    meta = yaml.safe_load(text.split("---", 2)[1]) or {}
    return [str(a) for a in meta.get("alerts") or []]


def about_the_alert(kind: str) -> set[str]:
    """Ids of the sample documents of one kind whose front matter names the alert."""
    return {p.stem for p in (DATA / kind).glob("*.md") if ALERT["alertname"] in front_matter_alerts(p)}


def linked_ids(mrkdwn: str) -> list[str]:
    """The document ids a section links to on the web UI."""
    ids = []
    for token in mrkdwn.split("<")[1:]:
        url = token.split("|", 1)[0]
        if url.startswith(UI + "document?"):
            ids += parse_qs(urlsplit(url).query)["id"]
    return ids


def post_alert(alertmanager: str) -> None:
    now = dt.datetime.now(dt.UTC)
    alert = [{"labels": ALERT, "annotations": {
        "summary": "Consumer group lag growing on the payments topic",
        "description": "Kafka consumer group lag above 10000 messages for 5 minutes"},
        "startsAt": now.isoformat(), "endsAt": (now + dt.timedelta(minutes=10)).isoformat()}]
    reply = httpx.post(f"{alertmanager}/api/v2/alerts", json=alert, timeout=10)
    assert reply.status_code == 200, reply.text


def test_a_firing_alert_reaches_slack_once_enriched_from_the_corpus(
        alertmanager: str, serve: tuple[str, Path], slack: Receiver) -> None:
    url, log_path = serve
    started = time.monotonic()
    post_alert(alertmanager)
    got = slack.wait_for(1, 180)
    assert got, f"nothing reached Slack\n{log_path.read_text()[-3000:]}"
    latency = time.monotonic() - started
    assert got[0].path == HOOK_PATH and got[0].headers.get("Content-Type") == "application/json"
    msg = got[0].json()
    assert problems(msg) == [], problems(msg)

    sections = {b["text"]["text"].split("\n", 1)[0]: b["text"]["text"] for b in msg["blocks"]
                if b["type"] == "section"}
    assert "KafkaConsumerLagHigh" in msg["blocks"][0]["text"]["text"] and "KafkaConsumerLagHigh" in msg["text"]
    incidents = linked_ids(sections["*Similar past incidents*"])
    assert set(incidents) & about_the_alert("postmortems"), incidents
    runbook = next(text for head, text in sections.items() if head.startswith("*Runbook*"))
    assert set(linked_ids(runbook)) & about_the_alert("runbooks"), runbook
    assert "document?id=" in runbook and "&at=" in runbook  # opened at the matched section

    # Alertmanager re-sends the firing group every 2 s: kb serve sees the repeats and posts nothing more
    wait_until(lambda: counts(url).get("duplicate", 0) >= 2, "Alertmanager's re-sends did not arrive", 60, log_path)
    time.sleep(1.0)
    assert len(slack.received) == 1
    log = log_path.read_text()
    assert TOKEN not in log and HOOK_PATH not in log and "s3cr3t" not in log
    print(f"\nalert posted to Alertmanager -> Slack message: {latency:.1f} s (group_wait 1 s)")

