"""Alert enrichment latency through `kb serve`: alert received -> Slack message posted. Figures, not asserts.

usage: python scripts/bench_enrich.py [--data-dir STORE] [--alerts 20] [--json]

`kb serve` is started on a free loopback port over a knowledge base (--data-dir, opened read-only in effect:
nothing is written to it; or a fresh temporary store with data/ ingested by `kb ingest`) with its Slack webhook
pointed at a loopback receiver in this process. Each alert is an Alertmanager webhook (version 4) of its own
alert group, built from the alert names the sample runbooks declare, POSTed to /alertmanager; its latency runs
from just before the POST to the moment the receiver has read the whole Slack message. Alerts go one at a
time (the next after the previous message arrived), and the Slack rate limit is lifted for the run
(KB_SLACK_RATE_PER_S=1000) so the figure is the enrichment path, not the 1-a-second spacing Slack asks for.

Baseline, measured in the same run over the same store: the search alone, ``KnowledgeBase.search_alert`` for
the same alert in this process (model and indexes warmed first, as `kb serve` warms them), right after each
alert's trip through the service, so both see the same load on the machine. The ratio says
what the service adds on top of the search: parsing, the queue, the enrichment's extra work, the message,
the HTTP post.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


class Slack:
    """A loopback incoming webhook: the arrival time of each message."""

    def __init__(self) -> None:
        self.arrived: list[float] = []
        self.ready = threading.Condition()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with outer.ready:
                    outer.arrived.append(time.perf_counter())
                    outer.ready.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/services/bench"

    def wait(self, count: int, timeout: float) -> float | None:
        with self.ready:
            self.ready.wait_for(lambda: len(self.arrived) >= count, timeout)
            return self.arrived[count - 1] if len(self.arrived) >= count else None


def alerts(count: int) -> list[dict[str, Any]]:
    """Alertmanager webhooks, one alert group each, from the alert names and titles of the sample runbooks."""
    named: list[tuple[str, str]] = []
    for path in sorted((ROOT / "data" / "runbooks").glob("*.md")):
        text = path.read_text(encoding="utf-8")
        meta = yaml.safe_load(text.split("---", 2)[1]) if text.startswith("---") else {}
        for alert in (meta or {}).get("alerts") or []:
            named.append((str(alert), str(meta.get("title") or path.stem)))
    out = []
    for n in range(count):
        name, title = named[n % len(named)]
        labels = {"alertname": name, "severity": "critical"}
        notes = {"summary": title}
        out.append({"version": "4", "groupKey": f'{{}}:{{alertname="{name}", run="{n}"}}', "status": "firing",
                    "receiver": "kb", "groupLabels": labels, "commonLabels": labels, "commonAnnotations": notes,
                    "externalURL": "http://127.0.0.1:9093", "alerts": [{"status": "firing", "labels": labels,
                                                                          "annotations": notes}]})
    return out


def ingest_sample(base: Path) -> Path:
    store = base / "store"
    subprocess.run([sys.executable, "-m", "ui.cli.main", "--data-dir", str(store), "ingest", str(ROOT / "data")],
                   check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return store


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    """`kb serve` over ``store`` posting to a loopback Slack; ``send`` times one alert group through it."""

    def __init__(self, store: Path, base: Path) -> None:
        self.slack = Slack()
        self.base = base
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("KB_") or k == "KB_CACHE_DIR"}
        env.update(KB_DATA_DIR=str(store), KB_SLACK_WEBHOOK_URL=self.slack.url, KB_SLACK_RATE_PER_S="1000",
                   KB_SERVE_PORT=str(port), KB_UI_URL="https://kb.example.com/", KB_SERVICE="off")
        self.log = (base / "serve.log").open("w")
        self.proc = subprocess.Popen([sys.executable, "-m", "ui.cli.main", "serve"], env=env, cwd=base,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{port}"
        self.client = httpx.Client(timeout=30)
        self.sent = 0

    def wait_up(self) -> None:
        deadline = time.monotonic() + 300
        while True:
            try:
                if self.client.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"kb serve did not come up; see {self.base / 'serve.log'}")
            time.sleep(0.2)

    def send(self, payload: dict[str, Any]) -> float:
        started = time.perf_counter()
        reply = self.client.post(f"{self.url}/alertmanager", json=payload)
        if reply.status_code != 202:
            raise SystemExit(f"kb serve answered {reply.status_code}: {reply.text}")
        self.sent += 1
        arrived = self.slack.wait(self.sent, 120)
        if arrived is None:
            raise SystemExit(f"alert {self.sent} never reached Slack; see {self.base / 'serve.log'}")
        return arrived - started

    def close(self) -> None:
        self.client.close()
        self.proc.terminate()
        self.proc.wait(30)
        self.log.close()
        self.slack.httpd.shutdown()


def search_only(store: Path) -> Any:
    """The baseline: ``search_alert`` in this process, warmed; a function timing one alert."""
    from kb.core.settings import Settings
    from kb.knowledge import open_kb
    from kb.retrieval.alerts import parse_alert
    from kb.retrieval.search import Query

    kb = open_kb(Settings(data_dir=store, _env_file=None), llm=False)  # type: ignore[call-arg]
    kb.search(Query(text="alert enrichment warm up", k=1))

    def timed(payload: dict[str, Any]) -> float:
        started = time.perf_counter()
        kb.search_alert(parse_alert(json.dumps(payload)))
        return time.perf_counter() - started

    return timed


def measure(store: Path, payloads: list[dict[str, Any]], base: Path) -> tuple[list[float], list[float]]:
    """Each alert through `kb serve`, then the same alert's search in process, alternating, so both see the
    machine's load alike."""
    served = Served(store, base)
    try:
        served.wait_up()
        baseline = search_only(store)
        pairs = [(served.send(p), baseline(p)) for p in payloads]
    finally:
        served.close()
    return [a for a, _ in pairs], [b for _, b in pairs]


def figures(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"median_ms": statistics.median(ordered) * 1000, "p95_ms": p95 * 1000, "n": len(ordered)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, help="an ingested store (default: data/ ingested into a temp store)")
    parser.add_argument("--alerts", type=int, default=20, help="alert groups sent (default 20)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-enrich-") as tmp:
        base = Path(tmp)
        store = args.data_dir.resolve() if args.data_dir else ingest_sample(base)
        payloads = alerts(args.alerts)
        through, alone = measure(store, payloads, base)
        served, baseline = figures(through), figures(alone)
    result = {"serve": served, "baseline_search_alert": baseline,
              "ratio_median": served["median_ms"] / baseline["median_ms"]}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"alert received -> Slack message posted, {served['n']:.0f} alert groups through kb serve:")
    print(f"  median {served['median_ms']:.0f} ms, p95 {served['p95_ms']:.0f} ms")
    print("baseline, KnowledgeBase.search_alert in process for the same alerts:")
    print(f"  median {baseline['median_ms']:.0f} ms, p95 {baseline['p95_ms']:.0f} ms")
    print(f"ratio (median): {result['ratio_median']:.2f}x the search alone")
    return 0


if __name__ == "__main__":
    sys.exit(main())
