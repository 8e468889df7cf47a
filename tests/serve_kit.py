"""What the `kb serve` tests share: a loopback HTTP receiver standing in for Slack, which records every request
and answers as it is told (e.g. 429 with Retry-After, then 500, then 200), and sample payloads."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: the path of the receiver's address, as secret as a real webhook's
HOOK_PATH = "/services/T000/B000/s3cr3t-hook-token"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A loopback webhook receiver. ``answers`` is a queue of (status, headers) to give, then 200 ``ok``."""

    answers: deque[tuple[int, dict[str, str]]] = field(default_factory=deque)
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.received.append(Received(self.path, dict(self.headers), body, time.monotonic()))
                status, headers = receiver.answers.popleft() if receiver.answers else (200, {})
                reply = b"ok" if status == 200 else b"rate_limited" if status == 429 else b"server_error"
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{HOOK_PATH}"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def wait_for(self, count: int, timeout: float) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.received)


def alertmanager_payload(key: str = '{}/{}:{alertname="PgBouncerPoolExhausted"}', status: str = "firing",
                         **annotations: str) -> dict[str, Any]:
    """An Alertmanager webhook (version 4) of one alert, as Alertmanager 0.25 sends it."""
    labels = {"alertname": "PgBouncerPoolExhausted", "service": "orders-db", "severity": "critical",
              "instance": "10.0.3.7:9127"}
    notes = {"summary": "pgbouncer pool exhausted: clients waiting for a server connection",
             "description": "cl_waiting above 50 for 5 minutes on orders-db", **annotations}
    return {
        "receiver": "kb", "status": status, "version": "4", "groupKey": key, "truncatedAlerts": 0,
        "groupLabels": {"alertname": "PgBouncerPoolExhausted"},
        "commonLabels": labels, "commonAnnotations": notes,
        "externalURL": "http://alertmanager.example:9093",
        "alerts": [{"status": status, "labels": labels, "annotations": notes,
                    "startsAt": "2026-01-21T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "http://prometheus.example:9090/graph", "fingerprint": "c4a1f0e2b3d4a5b6"}],
    }


def pagerduty_event(event_type: str = "incident.triggered", incident_id: str = "PGR0VU2",
                    title: str = "Checkout 502 errors after a deploy") -> dict[str, Any]:
    """A PagerDuty v3 webhook event, as its documentation shows one."""
    return {"event": {
        "id": "5ac64822-4adc-4fda-ade0-410becf0de4f", "event_type": event_type, "resource_type": "incident",
        "occurred_at": "2026-01-21T10:00:00.000Z", "agent": None, "client": None,
        "data": {
            "id": incident_id, "type": "incident", "self": f"https://api.pagerduty.com/incidents/{incident_id}",
            "html_url": f"https://acme.pagerduty.com/incidents/{incident_id}", "number": 2, "status": "triggered",
            "incident_key": "d3640fbd41094207a1c11e58e46b1662", "created_at": "2026-01-21T10:00:00Z",
            "title": title,
            "service": {"html_url": "https://acme.pagerduty.com/services/PF9KMXH", "id": "PF9KMXH",
                        "self": "https://api.pagerduty.com/services/PF9KMXH", "summary": "checkout",
                        "type": "service_reference"},
            "assignees": [], "escalation_policy": {"id": "PJ6Q0T3", "summary": "Default", "type":
                                                   "escalation_policy_reference"},
            "teams": [], "priority": {"id": "PSO75BM", "summary": "P1", "type": "priority_reference"},
            "urgency": "high", "conference_bridge": None, "resolve_reason": None,
        },
    }}
