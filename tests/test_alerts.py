from __future__ import annotations

import json

import pytest

from kb.retrieval.alerts import AlertParseError, parse_alert

WEBHOOK = {
    "version": "4",
    "status": "firing",
    "receiver": "sre-primary",
    "commonLabels": {"alertname": "PgBouncerPoolExhausted", "service": "orders", "severity": "critical"},
    "alerts": [
        {
            "status": "firing",
            "labels": {
                "alertname": "PgBouncerPoolExhausted",
                "service": "orders",
                "namespace": "orders",
                "instance": "10.0.3.4:9127",
                "severity": "critical",
            },
            "annotations": {
                "summary": "PgBouncer pool for orders-db is exhausted",
                "description": "{{ $value }} clients waiting: too many clients already",
            },
            "startsAt": "2026-01-21T10:18:00Z",
        }
    ],
}


def test_alertmanager_webhook_payload() -> None:
    q = parse_alert(json.dumps(WEBHOOK), "payload.json")
    assert q.alertnames == ["PgBouncerPoolExhausted"]
    assert "PgBouncer pool for orders-db is exhausted" in q.text
    assert "too many clients already" in q.text and "{{" not in q.text
    assert "10.0.3.4" not in q.text  # instance addresses are noise
    assert q.labels["service"] == "orders"


def test_prometheus_alert_in_yaml_and_a_rule() -> None:
    alert = "labels:\n  alertname: KubePodCrashLooping\n  namespace: checkout\nannotations:\n  description: Pod is crash looping\n"
    q = parse_alert(alert)
    assert q.alertnames == ["KubePodCrashLooping"] and "Pod is crash looping" in q.text and "checkout" in q.text
    rule = {
        "alert": "RedisMemoryHigh",
        "expr": "redis_memory_used_bytes > 0.9",
        "annotations": {"summary": "Redis memory high"},
    }
    assert parse_alert(json.dumps(rule)).alertnames == ["RedisMemoryHigh"]


@pytest.mark.parametrize(
    "raw", ["", "{not json: [", "[1, 2, 3]", '{"hello": "world"}', '{"labels": {}, "annotations": {}}']
)
def test_malformed_payloads_get_a_clear_error(raw: str) -> None:
    with pytest.raises(AlertParseError, match=r"alert\.json"):
        parse_alert(raw, "alert.json")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ('{"alerts": [ {"labels": {"alertname": "X"', r"invalid JSON at line 1, column 42"),
        ('[{"labels": {"alertname": "X"},]', r"invalid JSON at line 1, column \d+"),
        ("labels:\n  alertname: X\n annotations: [", r"neither JSON nor YAML \(YAML: .* at line \d+, column \d+"),
    ],
)
def test_a_broken_payload_names_the_file_line_and_column_in_one_line(raw: str, reason: str) -> None:
    with pytest.raises(AlertParseError, match=rf"^alert\.json: {reason}") as err:
        parse_alert(raw, "alert.json")
    assert "\n" not in str(err.value)
