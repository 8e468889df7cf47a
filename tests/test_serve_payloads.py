"""`kb serve`'s readers of what senders post (Alertmanager, PagerDuty v3), and its checks of who sent it."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from kb.alerting.payloads import MAX_BODY_BYTES, PayloadError, read_alertmanager, read_any, read_pagerduty
from kb.alerting.verify import bearer_ok, pagerduty_signature, pagerduty_signed
from tests.serve_kit import alertmanager_payload, pagerduty_event


def raw(data: object) -> bytes:
    return json.dumps(data).encode()


def test_alertmanager_firing_group_is_read_with_its_key_title_search_text_and_link() -> None:
    delivery = read_alertmanager(raw(alertmanager_payload(key="{}:{alertname=\"X\"}")))
    group = delivery.group
    assert group is not None and not delivery.ignored
    assert group.source == "alertmanager" and group.key == "{}:{alertname=\"X\"}" and group.status == "firing"
    assert group.alertnames == ("PgBouncerPoolExhausted",)
    assert "PgBouncerPoolExhausted" in group.title and "orders-db" in group.title
    assert "pgbouncer pool exhausted" in group.text and "orders-db" in group.text
    assert "10.0.3.7" not in group.text  # instance addresses are noise for a search
    assert group.labels["service"] == "orders-db"
    assert group.link == "http://alertmanager.example:9093"


def test_alertmanager_resolved_group_is_acknowledged_and_closes_its_key() -> None:
    delivery = read_alertmanager(raw(alertmanager_payload(key="k1", status="resolved")))
    assert delivery.group is None and "resolved" in delivery.ignored and delivery.closed == "k1"


def test_alertmanager_external_url_that_is_not_http_is_dropped() -> None:
    payload = alertmanager_payload()
    payload["externalURL"] = "javascript:alert(1)"
    group = read_alertmanager(raw(payload)).group
    assert group is not None and group.link is None


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty body"),
        (b"{not json", "invalid JSON at line 1, column 2"),
        (b"[1, 2]", "expected a JSON object, got list"),
        (b"\xff\xfe{}", "not UTF-8"),
        (raw({"status": "firing"}), "no 'alerts' list"),
        (raw({**alertmanager_payload(), "version": "3"}), "version '3'"),
        (raw({**alertmanager_payload(), "groupKey": ""}), "no 'groupKey'"),
        (raw({**alertmanager_payload(), "status": "exploded"}), "neither 'firing' nor 'resolved'"),
        (b"[" * 5000 + b"]" * 5000, "nested more than 64 levels"),
        (b'{"alerts": ' + b"[" * 100 + b"]" * 100 + b"}", "nested more than 64 levels"),
        (raw({**alertmanager_payload(), "alerts": [{"labels": {}, "annotations": {}}], "commonLabels": {},
              "commonAnnotations": {}}), "no name, summary or description"),
    ],
)
def test_malformed_alertmanager_bodies_are_refused_naming_the_reason(body: bytes, reason: str) -> None:
    with pytest.raises(PayloadError, match="Alertmanager webhook") as caught:
        read_alertmanager(body)
    assert reason in str(caught.value)


def test_an_oversized_body_is_refused_before_parsing() -> None:
    with pytest.raises(PayloadError, match="over the 1048576 byte limit"):
        read_alertmanager(b" " * (MAX_BODY_BYTES + 1))


def test_pagerduty_triggered_incident_is_read() -> None:
    group = read_pagerduty(raw(pagerduty_event(incident_id="PABC123"))).group
    assert group is not None
    assert group.source == "pagerduty" and group.key == "PABC123"
    assert group.title == "Checkout 502 errors after a deploy"
    assert "checkout" in group.text and "502" in group.text
    assert group.labels == {"service": "checkout", "priority": "P1", "urgency": "high"}
    assert group.link == "https://acme.pagerduty.com/incidents/PABC123"


@pytest.mark.parametrize("kind", ["incident.acknowledged", "incident.annotated", "incident.priority_updated",
                                  "pagey.ping", "service.updated"])
def test_pagerduty_events_other_than_a_new_incident_are_acknowledged_and_ignored(kind: str) -> None:
    delivery = read_pagerduty(raw(pagerduty_event(event_type=kind)))
    assert delivery.group is None and kind in delivery.ignored and delivery.closed is None


def test_pagerduty_resolved_closes_the_incident() -> None:
    delivery = read_pagerduty(raw(pagerduty_event(event_type="incident.resolved", incident_id="P1")))
    assert delivery.group is None and delivery.closed == "P1"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"incident": {}}, "no 'event' object"),
        ({"event": {"data": {}}}, "no 'event_type'"),
        ({"event": {"event_type": "incident.triggered"}}, "carries no incident"),
        ({"event": {"event_type": "incident.triggered", "data": {"title": "x"}}}, "no 'id'"),
        ({"event": {"event_type": "incident.triggered", "data": {"id": "P1", "title": " "}}}, "no 'title'"),
    ],
)
def test_malformed_pagerduty_events_are_refused_naming_the_reason(data: object, reason: str) -> None:
    with pytest.raises(PayloadError, match="PagerDuty webhook") as caught:
        read_pagerduty(raw(data))
    assert reason in str(caught.value)


def test_the_synchronous_endpoint_reads_a_bare_alert_a_webhook_or_an_event() -> None:
    bare = read_any(raw({"labels": {"alertname": "KafkaConsumerLag", "service": "payments"},
                         "annotations": {"summary": "consumer lag growing"}})).group
    assert bare is not None and bare.source == "api" and "KafkaConsumerLag" in bare.text
    assert read_any(raw(alertmanager_payload())).group is not None
    assert read_any(raw(pagerduty_event())).group is not None
    with pytest.raises(PayloadError, match="no alert found"):
        read_any(raw({"hello": "world"}))


SECRET = "whsec-rotating-secret"


def test_pagerduty_signature_is_the_hmac_sha256_of_the_raw_body() -> None:
    body = raw(pagerduty_event())
    # computed independently: HMAC-SHA256(secret, body), hex
    assert pagerduty_signature(body, SECRET) == "v1=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert pagerduty_signed(body, pagerduty_signature(body, SECRET), SECRET)


def test_pagerduty_signature_bad_missing_or_of_another_body_is_refused() -> None:
    body = raw(pagerduty_event())
    good = pagerduty_signature(body, SECRET)
    assert not pagerduty_signed(body, None, SECRET)
    assert not pagerduty_signed(body, "", SECRET)
    assert not pagerduty_signed(body, pagerduty_signature(body, "another-secret"), SECRET)
    assert not pagerduty_signed(body + b" ", good, SECRET)
    assert not pagerduty_signed(body, good.replace("v1=", "v2="), SECRET)
    assert not pagerduty_signed(body, good[:-1] + ("0" if good[-1] != "0" else "1"), SECRET)


def test_pagerduty_signatures_during_a_rotation_any_one_matching_is_enough() -> None:
    body = raw(pagerduty_event())
    old, new = pagerduty_signature(body, "old-secret"), pagerduty_signature(body, SECRET)
    assert pagerduty_signed(body, f"{old},{new}", SECRET)
    assert pagerduty_signed(body, f"{new}, {old}", SECRET)
    assert not pagerduty_signed(body, f"{old},{old}", SECRET)
    assert not pagerduty_signed(body, ",".join([old] * 20 + [new]), SECRET)  # more than a rotation carries


def test_bearer_token() -> None:
    assert bearer_ok("Bearer t0ken", "t0ken")
    assert bearer_ok("bearer t0ken", "t0ken")
    assert not bearer_ok("Bearer t0ke", "t0ken")
    assert not bearer_ok("Basic t0ken", "t0ken")
    assert not bearer_ok(None, "t0ken")
    assert not bearer_ok("Bearer ", "t0ken")
