"""Insights count incidents, not documents or service-incident pairs: over a small ingested store whose
documents are known (an incident touching three services, a postmortem kept twice, a postmortem with its chat
log, a chat log with no postmortem), every figure is checked against what those documents say. And the
severity palette: one colour per level, ordered from the most alarming, readable on both themes."""

from __future__ import annotations

import colorsys
import itertools
import math
from pathlib import Path

import pytest

from kb.core.settings import Settings
from kb.knowledge import KnowledgeBase
from kb.ops import insights
from kb.ops.insights import OTHER_SERVICES, UNKNOWN_SEVERITY, Incident
from tests.conftest import fake_ingested
from ui.web.charts import SEVERITY_COLOURS

POSTMORTEM = """---
title: {title}
date: {date}
services: [{services}]
severity: {severity}
duration: {duration}
---
# {title}

## Summary

{summary}

## Root cause

{cause}
"""

# A postmortem and the same report kept a second time (exported twice): one incident.
FAILOVER = dict(title="Sentinel failover logged users out", date="2024-03-05", services="session-cache",
                severity="SEV2", duration="20m", summary="Users were logged out after a redis sentinel failover.",
                cause="Clients stayed pinned to the old primary and got READONLY errors.")


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def corpus(root: Path) -> Path:
    pm = root / "postmortems"
    write(pm / "2024-01-10-checkout-payments-outage.md", POSTMORTEM.format(
        title="Checkout and payments down after an orders-db failover", date="2024-01-10",
        services="checkout, payments-gateway, orders-db", severity="SEV1", duration="1h 30m",
        summary="Checkout returned 502 and payments failed while orders-db failed over.",
        cause="The failover left the connection pool pointing at the old primary."))
    write(pm / "2024-01-22-search-disk-full.md", POSTMORTEM.format(
        title="Search stopped indexing at the disk flood stage", date="2024-01-22", services="catalog-search",
        severity="SEV3", duration="45m", summary="Elasticsearch hit the flood-stage watermark; indices went read-only.",
        cause="Old indices were never deleted."))
    write(pm / "2024-03-05-session-cache-failover.md", POSTMORTEM.format(**FAILOVER))
    write(root / "exports" / "postmortems" / "2024-03-05-session-cache-failover-export.md", POSTMORTEM.format(**FAILOVER))
    chats = root / "chats"
    # the chat log of the failover incident: same day, the same service
    write(chats / "2024-03-05-session-cache.txt", (
        "[2024-03-05 09:11:22] kenji: session-cache sentinel switched master, users are being logged out\n"
        "[2024-03-05 09:14:05] marcus: session-cache clients still talk to the old primary, READONLY errors\n"
        "[2024-03-05 09:31:40] kenji: restarted the auth pods, session-cache writes are back\n"))
    # an incident nobody wrote a postmortem for (yet)
    write(chats / "2024-04-02-kafka-lag.txt", (
        "[2024-04-02 14:02:10] priya: notifications consumer lag on kafka is at 2 million and growing\n"
        "[2024-04-02 14:20:45] priya: scaled the notifications consumers, kafka lag is draining\n"))
    return root


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    base = tmp_path_factory.mktemp("insights")
    settings = Settings(data_dir=base / "kb", _env_file=None)  # type: ignore[call-arg]
    return fake_ingested(settings, corpus(base / "docs"))


@pytest.fixture(scope="module")
def found(kb: KnowledgeBase) -> list[Incident]:
    return insights.incidents(kb)


def test_documents_of_one_incident_count_once(kb: KnowledgeBase, found: list[Incident]) -> None:
    metas = kb.record_metas()
    assert len(metas) == 6  # four postmortem files and two chat logs
    assert len(found) == 4
    by_day = {str(inc.date): inc for inc in found}
    failover = by_day["2024-03-05"]
    assert failover.kind.value == "postmortem"
    kinds = sorted(metas[d].kind.value for d in failover.documents)
    assert kinds == ["chat", "postmortem", "postmortem"]  # its copy and its chat log
    kafka = by_day["2024-04-02"]
    assert kafka.kind.value == "chat" and kafka.documents == [kafka.id] and kafka.severity == UNKNOWN_SEVERITY
    outage = by_day["2024-01-10"]
    assert sorted(outage.services) == ["checkout", "orders-db", "payments-gateway"]
    # every document belongs to exactly one incident
    assert sorted(d for inc in found for d in inc.documents) == sorted(metas)


def test_incidents_per_month_count_each_incident_once(found: list[Incident]) -> None:
    rows = insights.per_month(found)
    assert rows == [
        {"month": "2024-01", "severity": "SEV1", "incidents": 1},
        {"month": "2024-01", "severity": "SEV3", "incidents": 1},
        {"month": "2024-03", "severity": "SEV2", "incidents": 1},
        {"month": "2024-04", "severity": UNKNOWN_SEVERITY, "incidents": 1},
    ]
    assert insights.months(found) == ["2024-01", "2024-02", "2024-03", "2024-04"]


def test_per_service_counts_incidents_touching_each_service(kb: KnowledgeBase, found: list[Incident]) -> None:
    rows = {(r["month"], r["service"]): r["incidents"] for r in insights.per_service_month(found, top=10)}
    assert rows == {
        ("2024-01", "checkout"): 1, ("2024-01", "payments-gateway"): 1, ("2024-01", "orders-db"): 1,
        ("2024-01", "catalog-search"): 1, ("2024-03", "session-cache"): 1, ("2024-04", insights.NO_SERVICE): 1,  # no document names kafka a service
    }
    # with one service on its own row, the rest are counted together, each incident once
    first = insights.busiest_services(found, 1)
    assert first == ["catalog-search"]  # every service has one incident: the first by name
    grouped = {(r["month"], r["service"]): r["incidents"] for r in insights.per_service_month(found, top=1)}
    assert grouped == {
        ("2024-01", "catalog-search"): 1, ("2024-01", OTHER_SERVICES): 1,  # the three-service outage, once
        ("2024-03", OTHER_SERVICES): 1, ("2024-04", OTHER_SERVICES): 1,
    }


def test_severity_mix_and_time_to_mitigate(kb: KnowledgeBase, found: list[Incident]) -> None:
    assert insights.severity_mix(found) == {"SEV1": 1, "SEV2": 1, "SEV3": 1, UNKNOWN_SEVERITY: 1}
    assert list(insights.severity_mix(found)) == ["SEV1", "SEV2", "SEV3", UNKNOWN_SEVERITY]
    ttm = {str(r["date"]): (r["minutes"], r["severity"]) for r in insights.time_to_mitigate(kb, found)}
    assert ttm == {"2024-01-10": (90, "SEV1"), "2024-01-22": (45, "SEV3"), "2024-03-05": (20, "SEV2")}


def test_failure_modes_name_incidents_not_documents(kb: KnowledgeBase, found: list[Incident]) -> None:
    ids = {inc.id for inc in found}
    for mode in insights.failure_modes(kb, found, threshold=-1.0):  # every incident in one group
        assert set(mode.incidents) == ids


def test_severity_rank_orders_levels() -> None:
    levels = ["unknown", "SEV3", "SEV10x", "SEV1", "SEV0", "SEV2"]
    assert sorted(levels, key=insights.severity_rank) == ["SEV0", "SEV1", "SEV2", "SEV3", "SEV10x", "unknown"]


# -- the palette -------------------------------------------------------------------------------------------

#: Streamlit's page backgrounds: the light theme's and the dark theme's.
BACKGROUNDS = {"light": "#FFFFFF", "dark": "#0E1117"}


def _rgb(colour: str) -> tuple[float, float, float]:
    return tuple(int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5))  # type: ignore[return-value]


def _linear(c: float) -> float:
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(colour: str) -> float:
    """WCAG 2 relative luminance."""
    r, g, b = (_linear(c) for c in _rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def lab(colour: str) -> tuple[float, float, float]:
    """CIE L*a*b* (D65) of an sRGB colour."""
    r, g, b = (_linear(c) for c in _rgb(colour))
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def test_contrast_formula_matches_wcag_examples() -> None:
    assert contrast("#000000", "#FFFFFF") == pytest.approx(21.0)
    assert contrast("#777777", "#FFFFFF") == pytest.approx(4.48, abs=0.01)


def test_every_severity_colour_reads_on_both_themes() -> None:
    for severity, colour in SEVERITY_COLOURS.items():
        for theme, background in BACKGROUNDS.items():
            assert contrast(colour, background) >= 3.0, (severity, colour, theme)  # WCAG 1.4.11, graphics


def test_severity_colours_are_distinct() -> None:
    for (a, ca), (b, cb) in itertools.combinations(SEVERITY_COLOURS.items(), 2):
        assert math.dist(lab(ca), lab(cb)) >= 20, (a, b)  # CIE76 distance: clearly different colours


def test_severity_colours_run_from_red_to_blue_in_order() -> None:
    """SEV0, SEV1, ... SEV5 in that order, and their hues walk from magenta-red through red, orange and amber
    to the blues: the more severe, the nearer to red. SEV1 is red itself; the unknown severity is grey, last."""
    levels = list(SEVERITY_COLOURS)
    assert levels == ["SEV0", "SEV1", "SEV2", "SEV3", "SEV4", "SEV5", UNKNOWN_SEVERITY]
    assert levels == sorted(levels, key=insights.severity_rank)
    hls = {s: colorsys.rgb_to_hls(*_rgb(c)) for s, c in SEVERITY_COLOURS.items()}
    walk = [(hls[s][0] * 360 - 300) % 360 for s in levels[:-1]]  # hue from magenta (300 degrees) onwards
    assert walk == sorted(walk) and len(set(walk)) == len(walk), walk
    sev1 = hls["SEV1"][0] * 360
    assert min(sev1, 360 - sev1) <= 15  # red
    assert hls[UNKNOWN_SEVERITY][2] < 0.15  # grey: no hue to speak of
    assert all(hls[s][2] > 0.3 for s in levels[:-1])
