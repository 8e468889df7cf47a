"""`kb stats` counts a service once whatever its spelling (filters ignore case)."""

from __future__ import annotations

from kb.knowledge import services_counted


def test_spellings_of_one_service_are_counted_together_under_the_most_used() -> None:
    counted = services_counted([["CoreDNS", "checkout"], ["coredns"], ["CoreDNS"], ["Checkout", "checkout"]])
    assert counted == {"CoreDNS": 3, "checkout": 2}
